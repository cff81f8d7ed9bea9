//! A private PostgreSQL server for fault tests: `initdb` into a temporary directory and
//! `pg_ctl` on a free loopback port, so a test can stop and restart the database under a
//! running service without touching the shared server on 5432; and a streaming replica of it
//! ([`TestPostgres::start_replica_of`]) for the read-replica tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::config::{DatabaseConfig, Secret};

/// A PostgreSQL server of its own (trust authentication, user `postgres`, database
/// `postgres`, listening on 127.0.0.1 only). Dropping it stops the server at once and removes
/// its directory.
pub struct TestPostgres {
    dir: PathBuf,
    port: u16,
    bin: PathBuf,
}

impl TestPostgres {
    /// Creates the cluster and starts it. Panics when the PostgreSQL server programs
    /// (`initdb`, `pg_ctl`) are not installed or the server does not start.
    pub fn start() -> Self {
        let bin = server_bin_dir().unwrap_or_else(|| {
            panic!("the PostgreSQL server programs (initdb, pg_ctl) are not installed: apt-get install postgresql")
        });
        let dir = std::env::temp_dir().join(format!("kaigo-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("create the cluster directory");
        // PostgreSQL refuses to run as root: as root, the directory goes to `postgres`.
        if is_root() {
            run(Command::new("chown").arg("postgres:").arg(&dir), "chown");
        }
        let data = dir.join("data");
        run(
            as_server_user(&bin.join("initdb"))
                .args(["--auth=trust", "--username=postgres", "--no-sync", "--encoding=UTF8", "--locale=C", "-D"])
                .arg(&data),
            "initdb",
        );
        let port = super::free_port();
        let server = Self { dir, port, bin };
        server.resume();
        server
    }

    /// A streaming replica of `primary` (a read replica, docs/architecture.md#read-replicas):
    /// `pg_basebackup -R` of it, streaming its WAL and writing the standby settings, started in
    /// a directory and on a free loopback port of its own. Hot standby: it answers reads. The
    /// primary needs nothing more: `initdb`'s defaults (`wal_level=replica`, WAL senders, a
    /// trusted replication line for 127.0.0.1) already allow it.
    pub fn start_replica_of(primary: &TestPostgres) -> Self {
        let dir = std::env::temp_dir().join(format!("kaigo-pg-replica-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("create the replica directory");
        if is_root() {
            run(Command::new("chown").arg("postgres:").arg(&dir), "chown");
        }
        let data = dir.join("data");
        let source = primary.port.to_string();
        run(
            as_server_user(&primary.bin.join("pg_basebackup"))
                .args(["-h", "127.0.0.1", "-p", &source, "-U", "postgres"])
                // Stream the WAL, write the standby settings, checkpoint at once.
                .args(["-X", "stream", "-R", "--no-sync", "-c", "fast", "-D"])
                .arg(&data),
            "pg_basebackup",
        );
        let server = Self { dir, port: super::free_port(), bin: primary.bin.clone() };
        server.resume();
        server
    }

    /// Starts the stopped server again, on the same port and directory, and waits until it
    /// accepts connections.
    pub fn resume(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories='{}' -c fsync=off -c max_connections=40",
            self.port,
            self.dir.display()
        );
        run(
            as_server_user(&self.bin.join("pg_ctl"))
                .args(["start", "-w", "-t", "30", "-D"])
                .arg(self.dir.join("data"))
                .args(["-l"])
                .arg(self.dir.join("server.log"))
                .args(["-o", &options]),
            "pg_ctl start",
        );
    }

    /// Stops the server at once (`pg_ctl stop -m immediate`: connections are cut, as when
    /// the database goes away) and waits until it is gone.
    pub fn stop(&self) {
        run(&mut self.pg_ctl_stop(), "pg_ctl stop");
    }

    fn pg_ctl_stop(&self) -> Command {
        let mut command = as_server_user(&self.bin.join("pg_ctl"));
        command.args(["stop", "-w", "-m", "immediate", "-D"]).arg(self.dir.join("data"));
        command
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of its `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// A `[database]` section for it: the defaults (acquire and connect timeouts) and its URL.
    pub fn config(&self) -> DatabaseConfig {
        DatabaseConfig { url: Secret::new(self.url()), max_connections: 4, ..DatabaseConfig::default() }
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        let _ = self.pg_ctl_stop().stdout(Stdio::null()).stderr(Stdio::null()).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The directory holding `initdb` and `pg_ctl`: `PATH` first, then Debian's
/// `/usr/lib/postgresql/<version>/bin` (the newest version).
fn server_bin_dir() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
        // A link on PATH (`/usr/local/bin/initdb`) stands for the install's own directory,
        // which holds the other programs too (`pg_basebackup`).
        .map(|dir| {
            dir.join("initdb").canonicalize().ok().and_then(|p| p.parent().map(Path::to_path_buf)).unwrap_or(dir)
        });
    if on_path.is_some() {
        return on_path;
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").is_file())
        .collect();
    versions.sort_by_key(|bin| {
        bin.parent().and_then(Path::file_name).and_then(|v| v.to_str()).and_then(|v| v.parse::<u32>().ok())
    });
    versions.pop()
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

/// `program` run as the user `postgres` when this process is root, else as is.
fn as_server_user(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(command: &mut Command, what: &str) {
    let output = command.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
