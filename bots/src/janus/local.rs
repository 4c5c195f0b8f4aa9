//! A private Janus for tests and benchmarks: Debian's `janus` with only the VideoRoom plugin and the HTTP
//! transport, in a network namespace that the caller makes for itself.
//!
//! Janus never offers loopback candidates (INTEROP.md), so it cannot be tested on 127.0.0.1. Instead the
//! test binary re-runs itself under `unshare -n` (a namespace that dies with its last process, so nothing
//! leaks), brings `lo` up and adds a veth pair with 198.18.0.1/32 (RFC 2544's benchmarking range, routed
//! nowhere). Janus, the publishers and the bot all use that one address. Every process in the chain gets a
//! parent-death signal, so a killed test leaves no Janus behind.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use url::Url;

/// The namespace's one usable address.
pub const NETNS_ADDR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
/// Set in the re-run process: it is inside the namespace.
const INSIDE: &str = "PANELIST_IN_NETNS";
/// Overrides where the Janus plugin and transport libraries are looked for.
const LIB_ENV: &str = "PANELIST_JANUS_LIB";

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// This machine (or container) cannot make network namespaces: tests must skip, not fail.
    #[error("cannot create a network namespace here: {0}")]
    NoNamespaces(String),
    #[error("setting up the namespace: `{command}` failed: {output}")]
    Setup { command: String, output: String },
    #[error("Janus is not installed ({0}); apt-get install janus (scripts/test.sh does)")]
    NotInstalled(String),
    #[error("Janus did not start: {0}")]
    Start(String),
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl LocalError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, LocalError::Start(_))
    }
}

/// True in the process that `rerun_in_namespace` started.
pub fn inside_namespace() -> bool {
    std::env::var_os(INSIDE).is_some()
}

/// Re-runs this executable with `args` in a new network namespace and waits for it. Its output goes to ours.
/// `NoNamespaces` says why that is impossible here (no `unshare`, no CAP_SYS_ADMIN, namespaces disabled).
pub fn rerun_in_namespace(args: &[OsString]) -> Result<ExitStatus, LocalError> {
    probe_namespaces()?;
    let exe = std::env::current_exe()?;
    // setpriv: if we die, unshare gets SIGKILL; --kill-child: if unshare dies, the re-run test does too.
    let status = Command::new("setpriv")
        .args([
            "--pdeathsig",
            "KILL",
            "--",
            "unshare",
            "--net",
            "--fork",
            "--kill-child=KILL",
            "--",
        ])
        .arg(exe)
        .args(args)
        .env(INSIDE, "1")
        .status()?;
    Ok(status)
}

fn probe_namespaces() -> Result<(), LocalError> {
    let out = Command::new("unshare")
        .args(["--net", "--", "true"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| LocalError::NoNamespaces(format!("cannot run unshare: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(LocalError::NoNamespaces(
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        ))
    }
}

/// Inside the namespace: `lo` up, and a veth pair with `NETNS_ADDR` on one end (a dummy link where veth
/// is not available). Returns the address to give Janus, the bot and publishers.
pub fn setup_namespace() -> Result<IpAddr, LocalError> {
    ip(&["link", "set", "lo", "up"])?;
    let link = if ip(&[
        "link", "add", "pnl0", "type", "veth", "peer", "name", "pnl1",
    ])
    .is_ok()
    {
        ip(&["link", "set", "pnl1", "up"])?;
        "pnl0"
    } else {
        ip(&["link", "add", "pnl0", "type", "dummy"])?;
        "pnl0"
    };
    ip(&["addr", "add", &format!("{NETNS_ADDR}/32"), "dev", link])?;
    ip(&["link", "set", link, "up"])?;
    Ok(IpAddr::V4(NETNS_ADDR))
}

fn ip(args: &[&str]) -> Result<(), LocalError> {
    let command = format!("ip {}", args.join(" "));
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| LocalError::Setup {
            command: command.clone(),
            output: e.to_string(),
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(LocalError::Setup {
            command,
            output: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

/// What the private Janus serves.
#[derive(Debug, Clone)]
pub struct JanusOptions {
    /// The only address Janus gathers candidates on and serves HTTP at.
    pub addr: IpAddr,
    /// VideoRoom rooms created at start, by numeric id.
    pub rooms: Vec<u64>,
    pub rtp_ports: (u16, u16),
    /// Janus's log level (0-7; 4 is info).
    pub debug_level: u8,
}

impl Default for JanusOptions {
    fn default() -> Self {
        Self {
            addr: IpAddr::V4(NETNS_ADDR),
            rooms: vec![1234],
            rtp_ports: (20_000, 40_000),
            debug_level: 4,
        }
    }
}

/// A running Janus; killed (and its config directory removed) on drop.
pub struct JanusProcess {
    child: Child,
    dir: PathBuf,
    api: Url,
}

impl JanusProcess {
    /// Writes a config directory, starts Janus and waits until its HTTP API answers.
    pub async fn start(opts: JanusOptions) -> Result<Self, LocalError> {
        let lib = library_dir()?;
        let port = free_port(opts.addr)?;
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "panelist-janus-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        write_config(&dir, &lib, port, &opts)?;
        let log = dir.join("janus.log");
        let child = Command::new("setpriv")
            .args(["--pdeathsig", "KILL", "--", "janus"])
            .arg("--config")
            .arg(dir.join("janus.jcfg"))
            .arg("--configs-folder")
            .arg(&dir)
            .arg("--log-file")
            .arg(&log)
            .arg("--disable-stdout")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| LocalError::NotInstalled(format!("cannot run setpriv + janus: {e}")))?;
        let api = Url::parse(&format!("http://{}:{port}/janus", opts.addr))
            .map_err(|e| LocalError::Start(e.to_string()))?;
        let mut me = Self { child, dir, api };
        me.wait_up().await?;
        Ok(me)
    }

    /// Janus's process id (for CPU accounting in benchmarks).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The HTTP API root.
    pub fn api_url(&self) -> Url {
        self.api.clone()
    }

    /// The meeting URL a bot joins `room` with.
    pub fn room_url(&self, room: u64) -> Url {
        let raw = format!(
            "janus+http://{}:{}{}?room={room}",
            self.api.host_str().unwrap_or_default(),
            self.api.port().unwrap_or(80),
            self.api.path()
        );
        Url::parse(&raw).unwrap_or_else(|_| self.api.clone())
    }

    /// The last lines of Janus's log, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = fs::read_to_string(self.dir.join("janus.log")).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    async fn wait_up(&mut self) -> Result<(), LocalError> {
        let info = format!("{}/info", self.api);
        let http = reqwest::Client::new();
        for _ in 0..100 {
            if let Some(status) = self.child.try_wait()? {
                let mut stderr = String::new();
                if let Some(mut e) = self.child.stderr.take() {
                    let _ = io::Read::read_to_string(&mut e, &mut stderr);
                }
                return Err(LocalError::Start(format!(
                    "exited with {status}: {stderr}\n{}",
                    self.log_tail(20)
                )));
            }
            let up = http
                .get(&info)
                .timeout(Duration::from_millis(500))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if up {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(LocalError::Start(format!(
            "no answer at {info} after 10 s\n{}",
            self.log_tail(20)
        )))
    }
}

impl Drop for JanusProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Removes the config directories of a process that was killed before it could drop its `JanusProcess`
/// (a benchmark's child, say). Its Janus died with it (parent-death signal).
pub fn remove_leftovers(pid: u32) {
    let prefix = format!("panelist-janus-{pid}-");
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

/// Where Debian (or `PANELIST_JANUS_LIB`) keeps the `plugins/` and `transports/` folders.
fn library_dir() -> Result<PathBuf, LocalError> {
    let candidates: Vec<PathBuf> = match std::env::var_os(LIB_ENV) {
        Some(p) => vec![PathBuf::from(p)],
        None => vec![
            PathBuf::from(format!(
                "/usr/lib/{}-linux-gnu/janus",
                std::env::consts::ARCH
            )),
            PathBuf::from("/usr/lib/janus"),
            PathBuf::from("/opt/janus/lib/janus"),
        ],
    };
    candidates
        .iter()
        .find(|d| d.join("plugins/libjanus_videoroom.so").exists())
        .cloned()
        .ok_or_else(|| {
            LocalError::NotInstalled(format!(
                "no plugins/libjanus_videoroom.so under {candidates:?}"
            ))
        })
}

/// A TCP port free on `addr` now (Janus binds it a moment later; good enough in a private namespace).
fn free_port(addr: IpAddr) -> io::Result<u16> {
    Ok(TcpListener::bind((addr, 0))?.local_addr()?.port())
}

/// Config for exactly one plugin and one transport: the folders Janus loads from hold only links to those
/// two libraries, so nothing else (admin API, websockets, other plugins) is ever loaded.
fn write_config(dir: &Path, lib: &Path, port: u16, opts: &JanusOptions) -> io::Result<()> {
    for sub in ["plugins", "transports", "events", "loggers"] {
        fs::create_dir_all(dir.join(sub))?;
    }
    link(
        &lib.join("plugins/libjanus_videoroom.so"),
        &dir.join("plugins/libjanus_videoroom.so"),
    )?;
    link(
        &lib.join("transports/libjanus_http.so"),
        &dir.join("transports/libjanus_http.so"),
    )?;
    let d = dir.display();
    fs::write(
        dir.join("janus.jcfg"),
        format!(
            r#"general: {{
	configs_folder = "{d}"
	plugins_folder = "{d}/plugins"
	transports_folder = "{d}/transports"
	events_folder = "{d}/events"
	loggers_folder = "{d}/loggers"
	debug_level = {level}
	debug_timestamps = true
	session_timeout = 60
	hide_dependencies = true
}}
certificates: {{
}}
media: {{
	ipv6 = false
	rtp_port_range = "{lo}-{hi}"
}}
nat: {{
	nice_debug = false
	ignore_mdns = true
	ice_enforce_list = "{addr}"
}}
plugins: {{
}}
transports: {{
}}
loggers: {{
}}
events: {{
	broadcast = false
}}
"#,
            level = opts.debug_level,
            lo = opts.rtp_ports.0,
            hi = opts.rtp_ports.1,
            addr = opts.addr,
        ),
    )?;
    fs::write(
        dir.join("janus.transport.http.jcfg"),
        format!(
            r#"general: {{
	json = "compact"
	base_path = "/janus"
	http = true
	port = {port}
	ip = "{addr}"
	https = false
}}
admin: {{
	admin_http = false
	admin_https = false
}}
"#,
            addr = opts.addr,
        ),
    )?;
    let mut rooms = String::from("general: {\n}\n");
    for id in &opts.rooms {
        rooms.push_str(&format!(
            "room-{id}: {{\n\tdescription = \"Panelist room {id}\"\n\tpublishers = 32\n\taudiocodec = \"opus\"\n\tvideocodec = \"vp8\"\n\trecord = false\n}}\n"
        ));
    }
    fs::write(dir.join("janus.plugin.videoroom.jcfg"), rooms)?;
    Ok(())
}

fn link(from: &Path, to: &Path) -> io::Result<()> {
    match std::os::unix::fs::symlink(from, to) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        r => r,
    }
}
