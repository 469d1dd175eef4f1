//! The default classification table (DESIGN §2) on real responses and real transport errors.

mod common;

use std::time::Duration;

use common::{closed_port, http};
use steadfast::classify::{Applied, Classify, DefaultClassifier, Outcome, Reason, Verdict};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

type Case = (u16, &'static [(&'static str, &'static str)], Verdict);

async fn classify_status(server: &MockServer, status: u16, headers: &[(&str, &str)]) -> Verdict {
    let mut template = ResponseTemplate::new(status);
    for (name, value) in headers {
        template = template.insert_header(*name, *value);
    }
    let route = format!("/{status}/{}", headers.len());
    Mock::given(path(route.as_str()))
        .respond_with(template)
        .mount(server)
        .await;
    let response = http()
        .get(format!("{}{route}", server.uri()))
        .send()
        .await
        .expect("the server answers");
    let classification = DefaultClassifier::new().classify(Outcome::Response(&response));
    assert_eq!(classification.reason(), Reason::Status(response.status()));
    classification.verdict()
}

#[tokio::test]
async fn every_status_of_the_table() {
    use Verdict::{Permanent, Success, Transient};
    let throttled = |secs: Option<u64>| Verdict::Throttled {
        retry_after: secs.map(Duration::from_secs),
    };
    let server = MockServer::start().await;
    let cases: &[Case] = &[
        (200, &[], Success),
        (201, &[], Success),
        (204, &[], Success),
        (408, &[], Transient),
        (500, &[], Transient),
        (502, &[], Transient),
        (503, &[], Transient),
        (504, &[], Transient),
        (429, &[], throttled(None)),
        (429, &[("retry-after", "7")], throttled(Some(7))),
        (503, &[("retry-after", "3")], throttled(Some(3))),
        (403, &[("x-ratelimit-remaining", "0")], throttled(None)),
        (
            403,
            &[("ratelimit", "\"default\";r=0;t=20")],
            throttled(None),
        ),
        (400, &[], Permanent),
        (401, &[], Permanent),
        (403, &[], Permanent),
        (404, &[], Permanent),
        (405, &[], Permanent),
        (410, &[], Permanent),
        (422, &[], Permanent),
        (501, &[], Permanent),
        (505, &[], Permanent),
    ];
    for (status, headers, expected) in cases {
        let got = classify_status(&server, *status, headers).await;
        assert_eq!(got, *expected, "{status} with {headers:?}");
    }
}

async fn error_of(request: reqwest::RequestBuilder) -> reqwest::Error {
    request.send().await.expect_err("the request fails")
}

#[tokio::test]
async fn connection_refused_is_transient_and_not_applied() {
    let error = error_of(http().get(format!("http://127.0.0.1:{}/", closed_port()))).await;
    let c = DefaultClassifier::new().classify(Outcome::Error(&error));
    assert_eq!(c.verdict(), Verdict::Transient);
    assert_eq!(c.reason(), Reason::Connect);
    assert_eq!(c.applied(), Applied::NotApplied);
}

#[tokio::test]
async fn a_timeout_is_transient_and_maybe_applied() {
    // A server that accepts and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let holder = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.expect("accept");
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(socket);
    });
    let request = http()
        .get(format!("http://{addr}/"))
        .timeout(Duration::from_millis(200));
    let error = error_of(request).await;
    holder.abort();

    let c = DefaultClassifier::new().classify(Outcome::Error(&error));
    assert_eq!(c.verdict(), Verdict::Transient);
    assert_eq!(c.reason(), Reason::Timeout);
    assert_eq!(c.applied(), Applied::MaybeApplied);
}

#[tokio::test]
async fn a_reset_connection_is_transient_and_maybe_applied() {
    // A server that reads the request, then resets the connection (SO_LINGER 0).
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let resetter = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        let mut buf = [0u8; 1024];
        let _ = socket.read(&mut buf).await;
        socket.set_zero_linger().expect("linger");
        drop(socket);
    });
    let error = error_of(http().post(format!("http://{addr}/")).body("{}")).await;
    resetter.await.expect("server task");

    let c = DefaultClassifier::new().classify(Outcome::Error(&error));
    assert_eq!(c.verdict(), Verdict::Transient);
    assert!(
        matches!(
            c.reason(),
            Reason::ConnectionReset | Reason::ConnectionClosed
        ),
        "{:?}",
        c.reason()
    );
    assert_eq!(
        c.applied(),
        Applied::MaybeApplied,
        "the server may have acted on it"
    );
}

#[tokio::test]
async fn a_builder_error_is_permanent() {
    let error = error_of(http().get("http://127.0.0.1:1/").header("bad header", "x")).await;
    let c = DefaultClassifier::new().classify(Outcome::Error(&error));
    assert_eq!(c.verdict(), Verdict::Permanent);
    assert_eq!(c.reason(), Reason::InvalidRequest);
}

#[tokio::test]
async fn a_decode_error_is_permanent() {
    let server = MockServer::start().await;
    Mock::given(path("/"))
        .respond_with(ResponseTemplate::new(200).set_body_string("not json"))
        .mount(&server)
        .await;
    let response = http().get(server.uri()).send().await.expect("answers");
    let error = response
        .json::<serde_json::Value>()
        .await
        .expect_err("not json");
    let c = DefaultClassifier::new().classify(Outcome::Error(&error));
    assert_eq!(c.verdict(), Verdict::Permanent);
    assert_eq!(c.reason(), Reason::Decode);
}

#[tokio::test]
async fn builder_overrides_come_before_the_table() {
    let server = MockServer::start().await;
    Mock::given(path("/"))
        .respond_with(ResponseTemplate::new(409))
        .mount(&server)
        .await;
    let response = http().get(server.uri()).send().await.expect("answers");

    let default = DefaultClassifier::new().classify(Outcome::Response(&response));
    assert_eq!(default.verdict(), Verdict::Permanent);

    let custom = DefaultClassifier::builder()
        .status(reqwest::StatusCode::CONFLICT, Verdict::Transient)
        .build()
        .classify(Outcome::Response(&response));
    assert_eq!(custom.verdict(), Verdict::Transient);
}

#[tokio::test]
async fn a_response_head_too_large_is_permanent() {
    // A server whose answer has more headers than hyper accepts: the next attempt would
    // meet the same head.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let (mut socket, _) = listener.accept().await.expect("accept");
        let mut buf = [0u8; 1024];
        let _ = socket.read(&mut buf).await;
        // 200 headers: hyper accepts 100.
        let fillers = "x-filler: 1\r\n".repeat(200);
        let head = format!("HTTP/1.1 200 OK\r\n{fillers}content-length: 0\r\n\r\n");
        let _ = socket.write_all(head.as_bytes()).await;
    });
    let error = error_of(http().get(format!("http://{addr}/"))).await;
    server.await.expect("server task");

    let c = DefaultClassifier::new().classify(Outcome::Error(&error));
    assert_eq!(c.verdict(), Verdict::Permanent, "{error:?}");
    assert_eq!(c.reason(), Reason::InvalidResponse);
}
