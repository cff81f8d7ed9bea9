//! The Ed25519 key `kaigo dev` signs tokens with, and `kaigo token` mints with.

use std::path::{Path, PathBuf};

use jsonwebtoken::{Algorithm, EncodingKey, Header};

use super::Claims;

/// The Ed25519 key `kaigo dev` signs tokens with, kept in its data directory.
pub struct DevKey {
    private_pem: Vec<u8>,
    public_path: PathBuf,
}

impl DevKey {
    /// The private and public key files in `data_dir`.
    pub fn paths(data_dir: &Path) -> (PathBuf, PathBuf) {
        (data_dir.join("dev-signing-key.pem"), data_dir.join("dev-signing-key.pub.pem"))
    }

    /// Loads the key from `data_dir`, generating it on first use.
    pub fn load_or_create(data_dir: &Path) -> std::io::Result<Self> {
        let (private_path, public_path) = Self::paths(data_dir);
        if std::fs::metadata(&private_path).is_err() {
            std::fs::create_dir_all(data_dir)?;
            let (private_pem, public_pem) = generate_ed25519()?;
            std::fs::write(&public_path, public_pem)?;
            write_private(&private_path, private_pem.as_bytes())?;
        }
        Ok(Self { private_pem: std::fs::read(&private_path)?, public_path })
    }

    /// Loads an existing key (for `kaigo token`).
    pub fn load(data_dir: &Path) -> std::io::Result<Self> {
        let (private_path, public_path) = Self::paths(data_dir);
        Ok(Self { private_pem: std::fs::read(private_path)?, public_path })
    }

    /// The public key file, for `auth.public_key_files`.
    pub fn public_key_file(&self) -> &Path {
        &self.public_path
    }

    /// Signs `claims` with EdDSA.
    pub fn mint(&self, claims: &Claims) -> Result<String, String> {
        let key = EncodingKey::from_ed_pem(&self.private_pem).map_err(|e| e.to_string())?;
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), claims, &key).map_err(|e| e.to_string())
    }
}

fn generate_ed25519() -> std::io::Result<(String, String)> {
    use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
    use ed25519_dalek::pkcs8::{EncodePrivateKey, EncodePublicKey};
    let signing = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let private = signing.to_pkcs8_pem(LineEnding::LF).map_err(std::io::Error::other)?;
    let public = signing.verifying_key().to_public_key_pem(LineEnding::LF).map_err(std::io::Error::other)?;
    Ok((private.to_string(), public))
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)
}
