//! The server's certificate: the teacher's (`--cert`, `--key`), or a self-signed one made at
//! the first start for the server's names and kept in the class's folder (`web/cert.pem`,
//! `web/key.pem`), so that a browser told once to trust it need not be told again. Its SHA-256
//! fingerprint is printed for the teacher to compare with what the browser shows.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use ring::digest::{SHA256, digest};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub struct Certificate {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Certificate {
    pub fn load(cert: &Path, key: &Path) -> Result<Certificate, String> {
        let chain = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("--cert {}: {e}", cert.display()))?;
        if chain.is_empty() {
            return Err(format!("--cert {}: no certificate in it", cert.display()));
        }
        let key = PrivateKeyDer::from_pem_file(key)
            .map_err(|e| format!("--key {}: {e}", key.display()))?;
        Ok(Certificate { chain, key })
    }

    /// DIR's certificate, made first when DIR has none.
    pub fn made_in(dir: &Path, names: &[String]) -> Result<Certificate, String> {
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        if !cert.is_file() || !key.is_file() {
            let mut sans: Vec<String> = names.to_vec();
            for n in ["localhost", "127.0.0.1"] {
                if !sans.iter().any(|s| s == n) {
                    sans.push(n.to_string());
                }
            }
            let made = rcgen::generate_simple_self_signed(sans)
                .map_err(|e| format!("cannot make a certificate: {e}"))?;
            fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            crate::class::write_private(&key, made.signing_key.serialize_pem().as_bytes())?;
            crate::class::write_private(&cert, made.cert.pem().as_bytes())?;
            log::info!("made a self-signed certificate: {}", cert.display());
        }
        Certificate::load(&cert, &key)
    }

    /// The SHA-256 of the certificate, as browsers show it: `AB:CD:…`.
    pub fn fingerprint(&self) -> String {
        digest(&SHA256, &self.chain[0])
            .as_ref()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":")
    }

    pub fn server_config(&self) -> Result<Arc<ServerConfig>, String> {
        // ring, not aws-lc-rs (rustls's default): no C toolchain beyond cc, no cmake, and
        // minutes less to build. (Deprecated for its lack of post-quantum key exchange, which a
        // classroom's self-signed server does not need.)
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| format!("the certificate and its key: {e}"))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}
