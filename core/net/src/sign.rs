//! DMarket request signing (Ed25519), as shared/dmarket-api.md specifies.
//!
//! The signed string is `METHOD + percent-decoded path + ?query as sent + body + date`. The
//! host signs after the rate limiter's wait and afresh for every attempt, over the exact
//! bytes it sends. Keys are validated once, at start-up, with errors that say how to fix them.

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};

use crate::secret::Secret;

/// A key that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The public key is not 64 hex characters.
    #[error(
        "the public key (DMARKET_PUBLIC_KEY or market.public_key) must be 64 hex characters (an Ed25519 public key), got {0} characters{1}; copy it from your DMarket API keys page"
    )]
    PublicFormat(usize, &'static str),
    /// The secret key is not 128 hex characters.
    #[error(
        "the secret key (DMARKET_SECRET_KEY or market.secret_key) must be 128 hex characters (seed + public key, as DMarket issues it), got {0} characters{1}"
    )]
    SecretFormat(usize, &'static str),
    /// The secret does not belong to the public key.
    #[error(
        "DMARKET_SECRET_KEY does not belong to DMARKET_PUBLIC_KEY: copy both from the same DMarket API key pair"
    )]
    Mismatch,
    /// Only one of the two keys is set.
    #[error(
        "only one of DMARKET_PUBLIC_KEY and DMARKET_SECRET_KEY is set: set both to sign requests, or neither for public endpoints"
    )]
    Incomplete,
}

/// Signs requests with a DMarket key pair.
#[derive(Clone)]
pub struct Signer {
    public_hex: String,
    key: SigningKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("public_key", &self.public_hex)
            .field("secret_key", &"***")
            .finish()
    }
}

/// The three authentication headers of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `X-Api-Key`.
    pub api_key: String,
    /// `X-Sign-Date`.
    pub date: String,
    /// `X-Request-Sign`.
    pub signature: String,
}

impl Signer {
    /// Validates a DMarket key pair given as hex.
    pub fn from_hex(public: &str, secret: &Secret) -> Result<Signer, KeyError> {
        let public = public.trim();
        let secret = secret.expose().trim();
        let hint = |s: &str| {
            if s.bytes().all(|b| b.is_ascii_hexdigit()) {
                ""
            } else {
                " (and not all hex)"
            }
        };
        let pub_bytes: [u8; 32] = hex::decode(public)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(KeyError::PublicFormat(public.len(), hint(public)))?;
        let sec_bytes: [u8; 64] = hex::decode(secret)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(KeyError::SecretFormat(secret.len(), hint(secret)))?;
        let seed: [u8; 32] = sec_bytes[..32]
            .try_into()
            .expect("64 bytes split in halves");
        let key = SigningKey::from_bytes(&seed);
        if key.verifying_key().as_bytes() != &pub_bytes || sec_bytes[32..] != pub_bytes {
            return Err(KeyError::Mismatch);
        }
        Ok(Signer {
            public_hex: public.to_ascii_lowercase(),
            key,
        })
    }

    /// The public key.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// Signs one request: `path` as on the request line (it is percent-decoded here),
    /// `query` as on the wire without `?`, `body` as sent, at unix time `date`.
    pub fn sign(
        &self,
        method: &str,
        path: &str,
        query: &str,
        body: &[u8],
        date: u64,
    ) -> SignedHeaders {
        let message = signing_string(method, path, query, body, date);
        let signature = self.key.sign(&message);
        SignedHeaders {
            api_key: self.public_hex.clone(),
            date: date.to_string(),
            signature: format!("dmar ed25519 {}", hex::encode(signature.to_bytes())),
        }
    }
}

/// `METHOD + decoded path + (?query) + body + date`, the bytes DMarket signs.
pub fn signing_string(method: &str, path: &str, query: &str, body: &[u8], date: u64) -> Vec<u8> {
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    let mut m = Vec::with_capacity(method.len() + decoded.len() + query.len() + body.len() + 12);
    m.extend_from_slice(method.as_bytes());
    m.extend_from_slice(decoded.as_bytes());
    if !query.is_empty() {
        m.push(b'?');
        m.extend_from_slice(query.as_bytes());
    }
    m.extend_from_slice(body);
    m.extend_from_slice(date.to_string().as_bytes());
    m
}

/// Makes a fresh key pair in DMarket's hex format (public, secret): for tests and `sim`.
pub fn generate_keypair_hex(seed: [u8; 32]) -> (String, Secret) {
    let key = SigningKey::from_bytes(&seed);
    let public = hex::encode(key.verifying_key().as_bytes());
    let secret = format!("{}{}", hex::encode(seed), public);
    (public, Secret::new(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signing_string_matches_the_documented_example() {
        let m = signing_string(
            "GET",
            "/exchange/v1/market/items",
            "gameId=a8db&limit=100&currency=USD",
            b"",
            1605619994,
        );
        assert_eq!(
            String::from_utf8(m).unwrap(),
            "GET/exchange/v1/market/items?gameId=a8db&limit=100&currency=USD1605619994"
        );
        let m = signing_string("POST", "/a%20b", "", b"{}", 1);
        assert_eq!(String::from_utf8(m).unwrap(), "POST/a b{}1");
    }

    #[test]
    fn keys_are_validated_with_clear_errors() {
        let (public, secret) = generate_keypair_hex([7; 32]);
        assert!(Signer::from_hex(&public, &secret).is_ok());
        assert_eq!(
            Signer::from_hex("abc", &secret).unwrap_err(),
            KeyError::PublicFormat(3, "")
        );
        assert_eq!(
            Signer::from_hex(&"z".repeat(64), &secret).unwrap_err(),
            KeyError::PublicFormat(64, " (and not all hex)")
        );
        assert_eq!(
            Signer::from_hex(&public, &Secret::new("00")).unwrap_err(),
            KeyError::SecretFormat(2, "")
        );
        let (other_public, _) = generate_keypair_hex([8; 32]);
        assert_eq!(
            Signer::from_hex(&other_public, &secret).unwrap_err(),
            KeyError::Mismatch
        );
        let msg = KeyError::SecretFormat(2, "").to_string();
        assert!(msg.contains("128 hex characters") && !msg.contains(secret.expose()));
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let (public, secret) = generate_keypair_hex([9; 32]);
        let s = Signer::from_hex(&public, &secret).unwrap();
        let dbg = format!("{s:?}");
        assert!(dbg.contains(&public) && dbg.contains("***"));
        assert!(!dbg.contains(&secret.expose()[..64]));
    }
}
