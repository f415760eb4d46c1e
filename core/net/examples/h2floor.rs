//! The floor under the request path, for `bench/run.sh` row 4a: the same page fetched by the
//! HTTP/2 libraries alone, with none of skinscan's code (no limiter, retries, checks):
//! `h2` (what `http.rs` drives, through the same 256 KB read buffer, read and written in
//! turns by the same `interleave::Interleave`) and hyper's client
//! (what it drove before, unbuffered as it was). One connection,
//! `CONCURRENCY` tasks on a current-thread runtime and the same allocator setting, like
//! `examples/loadgen`.
//!
//! ```text
//! h2floor ADDR PATH REQUESTS CONCURRENCY h2|hyper
//! ```
//!
//! Prints one JSON object: the library, requests, seconds, requests per second.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use skinscan_net::interleave::Interleave;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, path, n, c, library] = args.as_slice() else {
        eprintln!("usage: h2floor ADDR PATH REQUESTS CONCURRENCY h2|hyper");
        return std::process::ExitCode::from(2);
    };
    let (Ok(n), Ok(c)) = (n.parse::<u64>(), c.parse::<u64>()) else {
        eprintln!("REQUESTS and CONCURRENCY are numbers");
        return std::process::ExitCode::from(2);
    };
    let uri: http::Uri = match format!("http://{addr}{path}").parse() {
        Ok(u) => u,
        Err(e) => {
            eprintln!("not a URL: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    // As `skinscan` and `examples/loadgen` do.
    skinscan_net::malloc::keep_freed_memory();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let started = Instant::now();
    match library.as_str() {
        "h2" => runtime.block_on(with_h2(addr, uri, n, c)),
        "hyper" => runtime.block_on(with_hyper(addr, uri, n, c)),
        other => {
            eprintln!("unknown library {other:?}: h2 or hyper");
            return std::process::ExitCode::from(2);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "library": library,
            "requests": n,
            "seconds": seconds,
            "rps": n as f64 / seconds,
        })
    );
    std::process::ExitCode::SUCCESS
}

async fn with_h2(addr: &str, uri: http::Uri, n: u64, c: u64) {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    let (sender, conn) = h2::client::Builder::new()
        .initial_window_size(4 << 20)
        .initial_connection_window_size(16 << 20)
        .handshake::<_, Bytes>(Interleave::new(tokio::io::BufReader::with_capacity(
            256 << 10,
            tcp,
        )))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..c {
        let (sender, uri, next) = (sender.clone(), uri.clone(), next.clone());
        tasks.spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < n {
                let mut sender = sender.clone().ready().await.expect("ready");
                let request = http::Request::get(uri.clone()).body(()).expect("request");
                let (response, _) = sender.send_request(request, true).expect("sent");
                let mut body = response.await.expect("response").into_body();
                while let Some(chunk) = body.data().await {
                    let chunk = chunk.expect("body");
                    let _ = body.flow_control().release_capacity(chunk.len());
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

async fn with_hyper(addr: &str, uri: http::Uri, n: u64, c: u64) {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    let (sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .initial_stream_window_size(4 << 20)
        .initial_connection_window_size(16 << 20)
        .handshake::<_, Empty<Bytes>>(TokioIo::new(tcp))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..c {
        let (mut sender, uri, next) = (sender.clone(), uri.clone(), next.clone());
        tasks.spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < n {
                let request = http::Request::get(uri.clone())
                    .body(Empty::new())
                    .expect("request");
                let response = sender.send_request(request).await.expect("response");
                response.into_body().collect().await.expect("body");
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}
