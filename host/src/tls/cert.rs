//! `reseau cert`: a self-signed certificate and its key, for development
//! (rcgen): the servers serve them (`--tls-cert`, `--tls-key`), the
//! clients trust the certificate (`--tls --ca`).

use std::fmt;
use std::fs::{DirBuilder, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};

/// What to write.
#[derive(Debug, Clone)]
pub struct CertRequest {
    /// Names and addresses the certificate is for: addresses become IP
    /// SANs, names DNS SANs; the first is also the subject's common name.
    pub hosts: Vec<String>,
    /// Days it is valid, from now.
    pub days: u32,
    /// Where the certificate goes (PEM).
    pub cert: PathBuf,
    /// Where the key goes (PEM, PKCS#8, mode 0600).
    pub key: PathBuf,
    /// Overwrite files that exist.
    pub force: bool,
}

/// Why no certificate was written: one line.
#[derive(Debug)]
pub enum CertError {
    /// A host rcgen cannot put in a certificate.
    Host(String, rcgen::Error),
    /// The file exists and `--force` was not given.
    Exists(PathBuf),
    /// The file cannot be written.
    Write { file: PathBuf, error: io::Error },
    /// rcgen failed.
    Make(rcgen::Error),
}

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertError::Host(host, error) => {
                write!(
                    f,
                    "--host {}: {error}",
                    crate::escape::escape(host.as_bytes())
                )
            }
            CertError::Exists(file) => write!(
                f,
                "{} exists: not overwritten (--force overwrites it)",
                file.display()
            ),
            CertError::Write { file, error } => {
                write!(f, "cannot write {}: {error}", file.display())
            }
            CertError::Make(error) => write!(f, "cannot make the certificate: {error}"),
        }
    }
}

impl std::error::Error for CertError {}

impl CertError {
    /// The process exit code ([`crate::exit`]): bad input or files.
    pub fn exit_code(&self) -> u8 {
        crate::exit::SETUP
    }
}

/// Makes the certificate and key of `request` and writes them (both are
/// checked for existence before either is written).
pub fn write(request: &CertRequest) -> Result<(), CertError> {
    if !request.force {
        for file in [&request.cert, &request.key] {
            if file.exists() {
                return Err(CertError::Exists(file.clone()));
            }
        }
    }
    let (cert, key) = make(&request.hosts, request.days)?;
    write_file(&request.cert, cert.as_bytes(), 0o644, request.force)?;
    write_file(&request.key, key.as_bytes(), 0o600, request.force)
}

/// A self-signed certificate for `hosts`, valid `days` from now, and its
/// key (ECDSA P-256), both PEM.
pub fn make(hosts: &[String], days: u32) -> Result<(String, String), CertError> {
    let mut params = CertificateParams::new(hosts.to_vec()).map_err(|error| {
        let host = hosts
            .iter()
            .find(|h| CertificateParams::new(vec![(*h).clone()]).is_err());
        CertError::Host(host.cloned().unwrap_or_default(), error)
    })?;
    let mut name = DistinguishedName::new();
    name.push(
        DnType::CommonName,
        hosts
            .first()
            .cloned()
            .unwrap_or_else(|| "localhost".to_owned()),
    );
    params.distinguished_name = name;
    params.not_before = SystemTime::now().into();
    params.not_after = params.not_before + Duration::from_secs(u64::from(days) * 86_400);
    let key = KeyPair::generate().map_err(CertError::Make)?;
    let cert = params.self_signed(&key).map_err(CertError::Make)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Writes `bytes` to a new file of mode `mode` (or over an old one, with
/// `force`; its mode is set again), making its folder first if it is
/// missing (`--out tls/` on a fresh clone), as `mkdir -p` would.
fn write_file(file: &Path, bytes: &[u8], mode: u32, force: bool) -> Result<(), CertError> {
    let failed = |error| CertError::Write {
        file: file.to_owned(),
        error,
    };
    if let Some(folder) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
        use std::os::unix::fs::DirBuilderExt;
        DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(folder)
            .map_err(failed)?;
    }
    let mut options = OpenOptions::new();
    options.write(true).mode(mode);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut out = options.open(file).map_err(|error| {
        if error.kind() == io::ErrorKind::AlreadyExists {
            CertError::Exists(file.to_owned())
        } else {
            failed(error)
        }
    })?;
    use std::os::unix::fs::PermissionsExt;
    out.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(failed)?;
    out.write_all(bytes).map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_missing_folder_is_made_and_the_key_is_private() {
        let root = std::env::temp_dir().join(format!("reseau-cert-{}", std::process::id()));
        let folder = root.join("a/b");
        let request = CertRequest {
            hosts: vec!["localhost".to_owned()],
            cert: folder.join("cert.pem"),
            key: folder.join("key.pem"),
            days: 1,
            force: false,
        };
        let written = write(&request);
        let mode = std::fs::metadata(&request.key).map(|m| m.permissions().mode() & 0o777);
        let _ = std::fs::remove_dir_all(&root);
        assert!(written.is_ok(), "{written:?}");
        assert_eq!(mode.ok(), Some(0o600));
    }
}
