//! The routes (placeholder: being written).

use super::config::Settings;

/// The site: one handler for every route.
pub struct App {}

impl App {
    /// Opens the database and checks the static folder.
    pub fn open(_settings: &Settings) -> Result<App, String> {
        Ok(App {})
    }

    /// Answers one request.
    pub fn handle(&self, _request: &rouille::Request) -> rouille::Response {
        rouille::Response::text("Hello World!")
    }
}
