//! The HTTP client alerts are sent with (TLS trust and proxy as the market's, redirects never
//! followed) and the webhook's body signature.

use hmac::Mac;
use skinscan_net::secret::Secret;
use std::time::Duration;

/// `sha256=<hex>` of HMAC-SHA256 over `body` with `secret`.
pub fn signature(secret: &Secret, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The HTTP client alerts use (and `skinscan probe`'s sink checks): redirects not followed, TLS verified against the same roots as the market (webpki,
/// the system's, `market.ca_file`), HTTP/1.1 or HTTP/2, through `market.proxy` when set, else
/// the environment's proxies (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`).
pub fn client(
    tls: &skinscan_net::http::TlsOptions,
    proxy: Option<&skinscan_net::http::Proxy>,
) -> Result<reqwest::Client, String> {
    let config = skinscan_net::http::tls_client_config(tls, &[b"h2", b"http/1.1"]);
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .connect_timeout(Duration::from_secs(5))
        // A redirect is an answer, never followed: to a login page it would "deliver".
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("skinscan/", env!("CARGO_PKG_VERSION")));
    if let Some(p) = proxy {
        let mut rp = reqwest::Proxy::all(format!("http://{}:{}", p.host, p.port))
            .map_err(|e| format!("{}: {e}", p.source))?;
        if let Some(c) = &p.credentials {
            let (user, pass) = c.expose().split_once(':').unwrap_or((c.expose(), ""));
            rp = rp.basic_auth(user, pass);
        }
        builder = builder.proxy(rp);
    }
    builder.build().map_err(|e| e.without_url().to_string())
}
