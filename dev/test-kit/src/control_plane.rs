//! The real control plane (etcd, kube-apiserver, kube-controller-manager) that
//! `hack/control-plane.sh` builds and starts: one per test binary, shared by its tests, each
//! test in a namespace of its own.
//!
//! With `WETIX_TEST_CONTROL_PLANE=DIR` the tests use the control plane already up in DIR
//! (`hack/test.sh` starts one for the whole run). Otherwise the first test that needs one
//! starts it in a temporary directory, owned by this process: it goes down when the test
//! binary ends, however it ends (a panicking test, an abort, a kill).
//!
//! On first use the CRD and the manifests of `deploy/` are applied as they are, with
//! server-side apply, so the operator runs as the ServiceAccount `wetix-operator` with exactly
//! the RBAC a cluster admin installs.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
};

use kube_emulator::RequestRecord;
use serde_json::Value;

/// The repository's root, above this crate.
fn repo() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .find(|dir| dir.join("hack/control-plane.sh").is_file())
        .unwrap_or(manifest)
        .to_path_buf()
}
/// The namespace and ServiceAccount `deploy/` creates for the operator.
pub const OPERATOR_NAMESPACE: &str = "wetix-operator";
pub const OPERATOR_SERVICE_ACCOUNT: &str = "wetix-operator";

pub struct ControlPlane {
    pub dir: PathBuf,
    pub url: String,
    ca_pem: String,
    admin_token: String,
    bin: PathBuf,
}

static SHARED: OnceLock<Result<ControlPlane, String>> = OnceLock::new();
static PRIVATE: OnceLock<Result<ControlPlane, String>> = OnceLock::new();
static OPERATOR_INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();

/// The shared control plane, started on first use. An error says why it is not available.
pub fn shared() -> Result<&'static ControlPlane, String> {
    SHARED
        .get_or_init(|| ControlPlane::open_or_start(std::env::var_os("WETIX_TEST_CONTROL_PLANE")))
        .as_ref()
        .map_err(Clone::clone)
}

/// The shared control plane with the CRD and `deploy/` applied.
pub fn with_operator() -> Result<&'static ControlPlane, String> {
    let plane = shared()?;
    OPERATOR_INSTALLED
        .get_or_init(|| plane.install_operator_manifests())
        .clone()?;
    Ok(plane)
}

/// A control plane of this test binary's own, never `WETIX_TEST_CONTROL_PLANE`'s, with the
/// CRD and `deploy/` applied: for tests that look across all namespaces and must see only
/// their own objects.
pub fn private() -> Result<&'static ControlPlane, String> {
    PRIVATE
        .get_or_init(|| {
            let plane = ControlPlane::open_or_start(None)?;
            plane.install_operator_manifests()?;
            Ok(plane)
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// The directory of the built control-plane binaries, if they are built.
pub fn built_bin() -> Option<PathBuf> {
    run_script(&["bin"], &[])
        .ok()
        .map(|bin| PathBuf::from(bin.trim()))
}

impl ControlPlane {
    fn open_or_start(running: Option<std::ffi::OsString>) -> Result<Self, String> {
        match running {
            Some(dir) => Self::open(PathBuf::from(dir)),
            None => {
                let dir = std::env::temp_dir().join(format!(
                    "wetix-control-plane-{}-{}",
                    std::process::id(),
                    nanos()
                ));
                let crd = repo().join("crds/wetixcredentials.yaml");
                let crd = crd.to_str().ok_or("repository path is not UTF-8")?;
                let pid = std::process::id().to_string();
                run_script(
                    &["up", dir.to_str().ok_or("temp dir is not UTF-8")?, crd],
                    &[("WETIX_CONTROL_PLANE_OWNER_PID", &pid)],
                )?;
                Self::open(dir)
            }
        }
    }

    /// The control plane up in `dir`.
    fn open(dir: PathBuf) -> Result<Self, String> {
        let bin = run_script(&["bin"], &[])?;
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name)).map_err(|e| {
                format!(
                    "{}: {e} (is the control plane up?)",
                    dir.join(name).display()
                )
            })
        };
        let url = read("url")?.trim().to_owned();
        let ca_pem = read("pki/apiserver.crt")?;
        let admin_token = read("pki/tokens.csv")?
            .split(',')
            .next()
            .unwrap_or_default()
            .to_owned();
        Ok(Self {
            dir,
            url,
            ca_pem,
            admin_token,
            bin: PathBuf::from(bin.trim()),
        })
    }

    /// The CRD and everything `kubectl kustomize deploy/` renders, applied as a cluster admin
    /// would, then the CRD's Established condition.
    fn install_operator_manifests(&self) -> Result<(), String> {
        let deploy = repo().join("deploy");
        let rendered = self.kubectl(
            &[
                "kustomize",
                deploy.to_str().ok_or("repository path is not UTF-8")?,
            ],
            None,
        )?;
        self.kubectl(
            &["apply", "--server-side", "--force-conflicts", "-f", "-"],
            Some(&rendered),
        )?;
        self.kubectl(
            &[
                "wait",
                "--for=condition=Established",
                "crd/wetixcredentials.wetix.my",
                "--timeout=30s",
            ],
            None,
        )?;
        Ok(())
    }

    /// Runs the control plane's own kubectl as the admin; stdout, or an error with stderr.
    pub fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
        use std::io::Write;
        let mut child = Command::new(self.bin.join("kubectl"))
            .arg("--kubeconfig")
            .arg(self.dir.join("kubeconfig"))
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("kubectl: {e}"))?;
        let input = stdin.unwrap_or_default().to_owned();
        let mut pipe = child.stdin.take().ok_or("kubectl stdin")?;
        let writer = std::thread::spawn(move || pipe.write_all(input.as_bytes()));
        let output = child
            .wait_with_output()
            .map_err(|e| format!("kubectl: {e}"))?;
        let _ = writer.join();
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(format!(
                "kubectl {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }

    /// The directory holding kubectl, helm and the control plane's binaries.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    pub fn admin_kubeconfig(&self, namespace: &str) -> String {
        self.kubeconfig("admin", &self.admin_token, namespace)
    }

    /// A kubeconfig for the operator's ServiceAccount with a fresh token from the TokenRequest
    /// API. Each token has its own credential id, which the audit log records, so a test can
    /// tell its operator's requests from those of the other tests.
    pub fn operator_kubeconfig(&self, namespace: &str) -> Result<(String, String), String> {
        let token = self.kubectl(
            &[
                "create",
                "token",
                OPERATOR_SERVICE_ACCOUNT,
                "-n",
                OPERATOR_NAMESPACE,
                "--duration=2h",
            ],
            None,
        )?;
        let token = token.trim();
        let credential_id = jwt_claim(token, "jti")
            .map(|jti| format!("JTI={jti}"))
            .ok_or("the ServiceAccount token has no jti claim")?;
        Ok((
            self.kubeconfig("wetix-operator", token, namespace),
            credential_id,
        ))
    }

    fn kubeconfig(&self, user: &str, token: &str, namespace: &str) -> String {
        use base64::Engine;
        let ca = base64::engine::general_purpose::STANDARD.encode(&self.ca_pem);
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: control-plane\n  cluster:\n    server: {url}\n    certificate-authority-data: {ca}\nusers:\n- name: {user}\n  user:\n    token: {token}\ncontexts:\n- name: {user}\n  context: {{cluster: control-plane, user: {user}, namespace: {namespace}}}\ncurrent-context: {user}\n",
            url = self.url
        )
    }

    /// Every request the audit log recorded after byte `from` that was made with the token
    /// whose credential id is `credential_id`, in the emulator's request-log shape.
    pub fn requests_since(&self, from: u64, credential_id: &str) -> Vec<RequestRecord> {
        let log = std::fs::read(self.dir.join("audit.log")).unwrap_or_default();
        let from = usize::try_from(from).unwrap_or(usize::MAX).min(log.len());
        String::from_utf8_lossy(&log[from..])
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|event| event["stage"] == "ResponseComplete")
            .filter(|event| {
                event["user"]["extra"]["authentication.kubernetes.io/credential-id"]
                    .as_array()
                    .is_some_and(|ids| ids.iter().any(|id| id == credential_id))
            })
            .map(|event| audit_record(&event))
            .collect()
    }

    /// Whether the audit log records a completed request whose URI contains `needle`.
    pub fn audit_log_has(&self, needle: &str) -> bool {
        std::fs::read_to_string(self.dir.join("audit.log"))
            .unwrap_or_default()
            .lines()
            .any(|line| line.contains(needle) && line.contains("\"stage\":\"ResponseComplete\""))
    }

    /// The audit log's length now: requests after this point are "since now".
    pub fn audit_offset(&self) -> u64 {
        std::fs::metadata(self.dir.join("audit.log")).map_or(0, |m| m.len())
    }
}

/// An audit event as the emulator would have logged the request.
fn audit_record(event: &Value) -> RequestRecord {
    let uri = event["requestURI"].as_str().unwrap_or_default();
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    let method = match event["verb"].as_str().unwrap_or_default() {
        "get" | "list" | "watch" => "GET",
        "create" => "POST",
        "update" => "PUT",
        "patch" => "PATCH",
        "delete" | "deletecollection" => "DELETE",
        other => other,
    };
    let field_manager = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "fieldManager")
        .map(|(_, v)| v.into_owned());
    RequestRecord {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        content_type: None,
        field_manager,
        user_agent: event["userAgent"].as_str().map(str::to_owned),
        status: event["responseStatus"]["code"]
            .as_u64()
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or_default(),
    }
}

/// One claim of a JWT's payload, unverified.
fn jwt_claim(token: &str, claim: &str) -> Option<String> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims[claim].as_str().map(str::to_owned)
}

/// A control plane of the calling test's own with nothing but the CRD, for a test that
/// installs the rest itself; it goes down when dropped (and with the test binary).
pub struct Bare(pub ControlPlane);

impl Bare {
    pub fn start() -> Result<Self, String> {
        ControlPlane::open_or_start(None).map(Self)
    }
}

impl Drop for Bare {
    fn drop(&mut self) {
        if let Some(dir) = self.0.dir.to_str() {
            let _ = run_script(&["down", dir], &[]);
        }
        let _ = std::fs::remove_dir_all(&self.0.dir);
    }
}

fn run_script(args: &[&str], env: &[(&str, &str)]) -> Result<String, String> {
    let script = repo().join("hack/control-plane.sh");
    let output = Command::new(&script)
        .args(args)
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", script.display()))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "hack/control-plane.sh {}: {}",
            args.first().copied().unwrap_or_default(),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// A namespace name for the running test, from its name (the test harness names each test's
/// thread after it), unique within the control plane.
pub fn namespace_for_this_test() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("test");
    let leaf: String = test
        .rsplit("::")
        .find(|part| !matches!(*part, "real" | "emulator"))
        .unwrap_or(test)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    let unique = format!(
        "{:x}{:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    format!("{}-{unique}", leaf.trim_matches('-'))
}

pub fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}
