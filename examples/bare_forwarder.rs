//! The floor under the chat benchmark: the least an actix-web server can do to forward a
//! request body with reqwest and return the answer — no parsing, no token, no matching, no
//! event stored. `bench/chat.sh` runs it beside nginx and Switchyard, so the cost of the HTTP
//! stack itself is measured apart from Switchyard's own work.
//!
//!   bare_forwarder LISTEN_ADDRESS UPSTREAM_URL

use std::cell::OnceCell;

use actix_web::http::header;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

/// The same allocator as the switchyard binary, so only the code differs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

thread_local! {
    /// One client per worker thread, as Switchyard keeps them: a connection stays on the runtime
    /// that opened it.
    static CLIENT: OnceCell<reqwest::Client> = const { OnceCell::new() };
}

struct Upstream(reqwest::Url);

fn client() -> Result<reqwest::Client, reqwest::Error> {
    CLIENT.with(|cell| {
        if let Some(client) = cell.get() {
            return Ok(client.clone());
        }
        let client = reqwest::Client::builder().no_proxy().build()?;
        Ok(cell.get_or_init(|| client).clone())
    })
}

async fn forward(
    req: HttpRequest,
    upstream: web::Data<Upstream>,
    body: web::Bytes,
) -> HttpResponse {
    let mut request = match client() {
        Ok(client) => client.post(upstream.0.clone()),
        Err(error) => return HttpResponse::InternalServerError().body(error.to_string()),
    };
    if let Some(content_type) = req.headers().get(header::CONTENT_TYPE) {
        request = request.header(header::CONTENT_TYPE.as_str(), content_type.as_bytes());
    }
    let answer = match request.body(body).send().await {
        Ok(response) => response.bytes().await,
        Err(error) => Err(error),
    };
    match answer {
        Ok(answer) => HttpResponse::Ok()
            .content_type("application/json")
            .body(answer),
        Err(error) => HttpResponse::BadGateway().body(error.to_string()),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(upstream)) = (args.next(), args.next()) else {
        eprintln!("usage: bare_forwarder LISTEN_ADDRESS UPSTREAM_URL");
        std::process::exit(2);
    };
    let upstream = reqwest::Url::parse(&upstream)
        .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidInput, error))?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let upstream = web::Data::new(Upstream(upstream));
    HttpServer::new(move || {
        App::new()
            .app_data(upstream.clone())
            .default_service(web::to(forward))
    })
    .bind(listen)?
    .run()
    .await
}
