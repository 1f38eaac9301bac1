//! The floor under the chat benchmark: the least an actix-web server can do to forward a
//! request body with hyper-util's pooled client (Switchyard's outbound client) and return the answer — no parsing, no token, no matching, no
//! event stored. `bench/chat.sh` runs it beside nginx and Switchyard, so the cost of the HTTP
//! stack itself is measured apart from Switchyard's own work.
//!
//!   bare_forwarder LISTEN_ADDRESS UPSTREAM_URL

use std::cell::OnceCell;

use actix_web::http::header;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// The same allocator as the switchyard binary, so only the code differs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Pool = Client<HttpConnector, Full<web::Bytes>>;

thread_local! {
    /// One client per worker thread, as Switchyard keeps them: a connection stays on the runtime
    /// that opened it.
    static CLIENT: OnceCell<Pool> = const { OnceCell::new() };
}

struct Upstream(hyper::Uri);

fn client() -> Pool {
    CLIENT.with(|cell| {
        cell.get_or_init(|| {
            let mut connector = HttpConnector::new();
            connector.set_nodelay(true);
            Client::builder(TokioExecutor::new()).build(connector)
        })
        .clone()
    })
}

async fn forward(
    req: HttpRequest,
    upstream: web::Data<Upstream>,
    body: web::Bytes,
) -> HttpResponse {
    let mut request = hyper::Request::post(upstream.0.clone());
    if let Some(content_type) = req.headers().get(header::CONTENT_TYPE) {
        request = request.header(header::CONTENT_TYPE.as_str(), content_type.as_bytes());
    }
    let request = match request.body(Full::new(body)) {
        Ok(request) => request,
        Err(error) => return HttpResponse::InternalServerError().body(error.to_string()),
    };
    let answer = match client().request(request).await {
        Ok(response) => match response.into_body().collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(error) => Err(error.to_string()),
        },
        Err(error) => Err(error.to_string()),
    };
    match answer {
        Ok(answer) => HttpResponse::Ok()
            .content_type("application/json")
            .body(answer),
        Err(error) => HttpResponse::BadGateway().body(error),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(upstream)) = (args.next(), args.next()) else {
        eprintln!("usage: bare_forwarder LISTEN_ADDRESS UPSTREAM_URL");
        std::process::exit(2);
    };
    let upstream: hyper::Uri = upstream
        .parse()
        .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidInput, error))?;
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
