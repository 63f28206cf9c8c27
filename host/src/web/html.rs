//! The site's HTML pages: templates compiled into the binary, filled with
//! HTML-escaped values.
//!
//! CherryPy's handout builds its pages with `'Hello <b>{}</b>!'.format(name)`,
//! which lets `?name=<script>...` run in the visitor's browser. Here the only
//! way a value reaches a page is [`render`], and `render` escapes every value:
//! there is no "raw" variant to misuse.

/// The page around the hello message (the handout's `index.htm`).
pub const INDEX: &str = include_str!("../../../web/templates/index.html");
/// The course's 404 page ("Page not found! Fin du monde!").
pub const NOT_FOUND: &str = include_str!("../../../web/templates/404.html");
/// The login form.
pub const LOGIN_FORM: &str = include_str!("../../../web/templates/loginform.html");
/// The answer to the login form.
pub const LOGIN: &str = include_str!("../../../web/templates/login.html");
/// Any other error page (400, 405, 413, 500): status, reason and message.
pub const ERROR: &str = include_str!("../../../web/templates/error.html");
/// The front-end page (`/app`), which talks to the REST API.
pub const APP: &str = include_str!("../../../web/templates/app.html");

/// `text` with the five characters that mean something in HTML (in text
/// and in quoted attribute values) replaced by entities.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `template` with each `{{key}}` replaced by its value from `values`,
/// escaped. A placeholder with no value becomes empty; text inserted is
/// never scanned again, so a value cannot inject a placeholder.
pub fn render(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let (before, after) = rest.split_at(start);
        out.push_str(before);
        let inner = after.get(2..).unwrap_or_default();
        let Some(end) = inner.find("}}") else {
            out.push_str(after);
            return out;
        };
        let key = inner.get(..end).unwrap_or_default().trim();
        if let Some((_, value)) = values.iter().find(|(k, _)| *k == key) {
            out.push_str(&escape(value));
        }
        rest = inner.get(end + 2..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_that_matters() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert_eq!(escape("Zoë 🌍"), "Zoë 🌍");
    }

    #[test]
    fn renders_placeholders() {
        assert_eq!(
            render("Hello <b>{{name}}</b>! {{ missing }}.", &[("name", "<i>")]),
            "Hello <b>&lt;i&gt;</b>! ."
        );
        assert_eq!(render("{{a}}", &[("a", "{{a}}")]), "{{a}}");
        assert_eq!(render("x {{ y", &[]), "x {{ y");
    }

    #[test]
    fn every_template_has_its_placeholders() {
        assert!(INDEX.contains("Hello <b>{{name}}</b>!"));
        assert!(NOT_FOUND.contains("{{url}}"));
        assert!(LOGIN.contains("Bonjour {{name}} !"));
        assert!(ERROR.contains("{{message}}"));
        assert!(LOGIN_FORM.contains(r#"action="/login""#));
    }
}
