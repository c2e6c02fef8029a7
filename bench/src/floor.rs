//! The stack's floor: a reverse proxy built from the same parts as the
//! gateway and nothing of its own (hyper's HTTP/1.1 server in, twoway's
//! pooled mutual-TLS [`Transport`] out, mimalloc, the gateway's runtime shape),
//! with no login, no plugin, no XML and no log line. It runs as its own
//! process (`twoway-bench floor-proxy`, started by the load table), so its
//! CPU time is its own; callers send their own SessionHeader, as to nginx.
//! What the gateway spends over it is twoway's own work; what it spends over
//! nginx is the stack's.

use std::convert::Infallible;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use twoway::gateway::Shape;
use twoway::transport::Transport;

/// Largest request body the floor proxy reads (the gateway's default cap).
const MAX_BODY: usize = 1 << 20;

/// What `twoway-bench floor-proxy` is told.
#[derive(clap::Args, Clone, Debug)]
pub struct FloorArgs {
    /// The API's base, e.g. https://localhost:PORT (the simulator's mutual-auth port).
    #[arg(long)]
    pub upstream: String,
    /// The test PKI (fullcert.pem, root-ca.pem).
    #[arg(long)]
    pub pki: PathBuf,
    /// Idle connections kept per upstream host.
    #[arg(long)]
    pub pool: usize,
}

/// Serves until killed; the first line on stdout is the address it listens on.
/// It takes the gateway's runtime shape (`TWOWAY_RUNTIME`): per core, the
/// default, one thread per core, each a current-thread runtime with its own
/// `SO_REUSEPORT` socket and its own upstream pool; `shared`, one runtime.
pub async fn serve(args: FloorArgs) -> anyhow::Result<()> {
    let transport = crate::env::transport(&args.pki, args.pool)?;
    let base = Arc::new(Base::parse(&args.upstream)?);
    if let Shape::PerCore(cores) = Shape::from_env()? {
        return per_core(transport, base, cores);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    say_where(listener.local_addr()?)?;
    accept(listener, transport, base).await
}

/// The first line on stdout: where the proxy listens.
fn say_where(addr: SocketAddr) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{addr}")?;
    stdout.flush()?;
    Ok(())
}

/// [`serve`] on `cores` threads.
fn per_core(transport: Transport, base: Arc<Base>, cores: usize) -> anyhow::Result<()> {
    let bind = |addr: SocketAddr| -> std::io::Result<std::net::TcpListener> {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.set_reuseport(true)?;
        socket.bind(addr)?;
        socket.listen(1024)?.into_std()
    };
    let first = bind("127.0.0.1:0".parse()?)?;
    let addr = first.local_addr()?;
    let mut listeners = vec![first];
    for _ in 1..cores {
        listeners.push(bind(addr)?);
    }
    say_where(addr)?;
    let threads: Vec<_> = listeners
        .into_iter()
        .enumerate()
        .map(|(i, listener)| {
            let (transport, base) = (transport.clone(), base.clone());
            std::thread::spawn(move || -> anyhow::Result<()> {
                twoway::transport::pin_to_core(i + 1);
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                runtime.block_on(async move {
                    accept(
                        tokio::net::TcpListener::from_std(listener)?,
                        transport,
                        base,
                    )
                    .await
                })
            })
        })
        .collect();
    for thread in threads {
        thread
            .join()
            .map_err(|_| anyhow::anyhow!("a floor thread panicked"))??;
    }
    Ok(())
}

/// Serves every connection `listener` accepts on this runtime.
async fn accept(
    listener: tokio::net::TcpListener,
    transport: Transport,
    base: Arc<Base>,
) -> anyhow::Result<()> {
    loop {
        let (tcp, _) = listener.accept().await?;
        let (transport, base) = (transport.clone(), base.clone());
        let service = service_fn(move |request| {
            let (transport, base) = (transport.clone(), base.clone());
            async move { Ok::<_, Infallible>(forward(&transport, &base, request).await) }
        });
        tokio::spawn(
            hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tcp), service),
        );
    }
}

/// Where requests go: the API's scheme and authority, parsed once.
pub struct Base {
    scheme: http::uri::Scheme,
    authority: http::uri::Authority,
}

impl Base {
    /// `upstream` (e.g. https://localhost:PORT), which names no path.
    fn parse(upstream: &str) -> anyhow::Result<Self> {
        let uri: http::Uri = upstream
            .parse()
            .with_context(|| format!("the upstream {upstream:?}"))?;
        let parts = uri.into_parts();
        let path = parts.path_and_query.as_ref().map_or("/", |p| p.as_str());
        match (parts.scheme, parts.authority) {
            (Some(scheme), Some(authority)) if path == "/" => Ok(Self { scheme, authority }),
            _ => anyhow::bail!("the upstream {upstream:?} is not a scheme and a host alone"),
        }
    }

    /// The API's URI of a caller's `path` (the caller's path and query, as
    /// it came: no second parse, as nginx forwards it).
    fn uri(&self, path: Option<&http::uri::PathAndQuery>) -> Result<http::Uri, http::Error> {
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = Some(
            path.cloned()
                .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/")),
        );
        Ok(http::Uri::from_parts(parts)?)
    }
}

/// One request: its body read whole, sent on with the caller's headers
/// (but Host), the answer's status, content type and body returned.
async fn forward(
    transport: &Transport,
    base: &Base,
    request: http::Request<hyper::body::Incoming>,
) -> http::Response<Full<Bytes>> {
    let answer = |status: u16, body: Bytes| {
        let mut response = http::Response::new(Full::new(body));
        *response.status_mut() =
            http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_GATEWAY);
        response
    };
    let (parts, body) = request.into_parts();
    let body = match twoway::transport::read_whole(body, MAX_BODY).await {
        Ok(body) => body,
        Err(e) => return answer(400, format!("could not read the body: {e}").into()),
    };
    let uri = match base.uri(parts.uri.path_and_query()) {
        Ok(uri) => uri,
        Err(e) => return answer(400, format!("invalid request: {e}").into()),
    };
    // The caller's headers go on, as nginx sends them, but its Host: the
    // request names the API's host (`:authority`); the transport leaves
    // out the headers HTTP/2 forbids.
    let mut headers = parts.headers;
    headers.remove(http::header::HOST);
    let mut upstream = http::Request::new(body);
    *upstream.method_mut() = parts.method;
    *upstream.uri_mut() = uri;
    *upstream.headers_mut() = headers;
    match transport.send(upstream).await {
        Ok(reply) => {
            let mut response = answer(reply.status, reply.body);
            if let Some(value) = reply.headers.get(http::header::CONTENT_TYPE) {
                response
                    .headers_mut()
                    .insert(http::header::CONTENT_TYPE, value.clone());
            }
            response
        }
        Err(e) => answer(502, format!("upstream: {e}").into()),
    }
}

/// A running floor proxy process, killed when dropped.
pub struct FloorProxy {
    child: Child,
    pub addr: SocketAddr,
}

impl FloorProxy {
    /// Starts `twoway-bench floor-proxy` (this program) with `env` (the
    /// gateway's extra environment, e.g. its worker threads), run by
    /// `wrap` when it is not empty (valgrind, for `count`).
    pub fn start(
        args: &FloorArgs,
        env: &[(String, String)],
        wrap: &[String],
    ) -> anyhow::Result<Self> {
        let mut child = crate::gateway::wrapped(wrap, &std::env::current_exe()?)
            .arg("floor-proxy")
            .arg("--upstream")
            .arg(&args.upstream)
            .arg("--pki")
            .arg(&args.pki)
            .arg("--pool")
            .arg(args.pool.to_string())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting the floor proxy (twoway-bench floor-proxy)")?;
        let stdout = child.stdout.take().context("the floor proxy's stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let addr = match line.trim().parse() {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                anyhow::bail!("the floor proxy did not say where it listens (got {line:?})");
            }
        };
        Ok(Self { child, addr })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://ADDR{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A floor proxy in front of the API `direct` calls (the simulator's
    /// mutual-auth port), started as [`FloorProxy::start`] does.
    pub fn in_front_of(
        direct: &crate::env::DirectSession,
        pki: &std::path::Path,
        pool: usize,
        env: &[(String, String)],
        wrap: &[String],
    ) -> anyhow::Result<Self> {
        let authority = direct.uri.authority().map_or("", |a| a.as_str());
        let args = FloorArgs {
            upstream: format!("https://{authority}"),
            pki: pki.to_path_buf(),
            pool,
        };
        Self::start(&args, env, wrap)
    }

    /// The load table's client e: `direct`'s request (its own session),
    /// sent through this proxy to the API's own path.
    pub fn target(
        &self,
        http: &crate::http::Http,
        direct: &crate::env::DirectSession,
    ) -> anyhow::Result<crate::http::Target> {
        let path = direct.uri.path_and_query().map_or("/", |p| p.as_str());
        Ok(crate::http::Target::Proxy {
            http: http.clone(),
            uri: self.url(path).parse()?,
            body: direct.body.clone(),
        })
    }
}

impl Drop for FloorProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
