//! Graceful shutdown that fails no request a client has already sent.
//!
//! Stopping hyper's connections at once (axum's `with_graceful_shutdown` alone) closes every
//! keep-alive connection between two requests, and under load most of them already hold the
//! client's next request, unread: the client sees the connection close with no answer. So on
//! SIGTERM keygate first *drains*: the listener is closed at once (new connections are
//! refused, which a client or load balancer knows it may retry elsewhere), and every answer
//! from then on carries `Connection: close`, so each client's connection closes after the
//! answer to the request it had sent. After [`DRAIN`], whatever is still open and idle is
//! closed, and requests still running finish.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// How long connections get to send the request they have under way after SIGTERM.
pub const DRAIN: Duration = Duration::from_secs(1);

/// Starts the drain; cheap to clone.
#[derive(Clone)]
pub struct Drain {
    /// Tells the listener to close.
    stop: watch::Sender<bool>,
    /// Set by the listener once its socket is closed.
    closed: watch::Receiver<bool>,
    /// Answers carry `Connection: close` once set.
    draining: watch::Sender<bool>,
}

impl Drain {
    /// A listener that stops accepting once [`Drain::start`] is called, and the drain.
    pub fn listen(listener: TcpListener) -> std::io::Result<(DrainingListener, Self)> {
        let (stop, stop_rx) = watch::channel(false);
        let (closed_tx, closed) = watch::channel(false);
        let addr = listener.local_addr()?;
        Ok((
            DrainingListener {
                inner: Some(listener),
                backlog: Vec::new(),
                addr,
                stop: stop_rx,
                closed: closed_tx,
            },
            Self {
                stop,
                closed,
                draining: watch::channel(false).0,
            },
        ))
    }

    /// Closes the listener, then marks every answer from now on `Connection: close`. In
    /// that order: a client told to close its connection must find no listener to open a
    /// new one with (it would be reset, unanswered, when the process exits).
    pub async fn start(&self) {
        self.stop.send_replace(true);
        let mut closed = self.closed.clone();
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            let _ = closed.wait_for(|c| *c).await.is_ok();
        })
        .await;
        self.draining.send_replace(true);
    }

    /// `router` with `Connection: close` on every answer once the drain has started.
    pub fn close_connections_when_draining(&self, router: Router) -> Router {
        let draining = self.draining.subscribe();
        router.layer(axum::middleware::map_response(move |mut res: Response| {
            let draining = *draining.borrow();
            async move {
                if draining {
                    res.headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
                res
            }
        }))
    }
}

/// A TCP listener that closes its socket when the drain starts, after taking the
/// connections the kernel had already completed (so they are answered, not reset).
pub struct DrainingListener {
    inner: Option<TcpListener>,
    backlog: Vec<(TcpStream, SocketAddr)>,
    addr: SocketAddr,
    stop: watch::Receiver<bool>,
    closed: watch::Sender<bool>,
}

impl axum::serve::Listener for DrainingListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            if let Some(conn) = self.backlog.pop() {
                return conn;
            }
            let Some(listener) = &self.inner else {
                return std::future::pending().await;
            };
            let stop = async {
                // The guard `wait_for` returns is not `Send`: drop it here.
                let _ = self.stop.wait_for(|d| *d).await.is_ok();
            };
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = stop => {
                    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
                    while let std::task::Poll::Ready(Ok(conn)) = listener.poll_accept(&mut cx) {
                        self.backlog.push(conn);
                    }
                    self.inner = None;
                    self.closed.send_replace(true);
                    continue;
                }
            };
            match accepted {
                Ok(conn) => return conn,
                // Out of file descriptors and the like: wait, as axum's own listener does.
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.addr)
    }
}
