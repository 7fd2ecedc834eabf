//! Which Kubernetes API a test runs against: the emulator, the real control plane, or both,
//! as `WETIX_TEST_CLUSTER` says (`emulator`, `real` or `both`, the default). Under `CI=true`
//! nothing may leave a server out.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    Emulator,
    Real,
}

impl Server {
    /// Whether `WETIX_TEST_CLUSTER` selects this server.
    ///
    /// # Panics
    /// On a value other than `emulator`, `real` or `both`, and on anything but `both` under
    /// `CI=true`: a mistake in how the tests were started, which must not pass quietly.
    pub fn selected(self) -> bool {
        let choice = std::env::var("WETIX_TEST_CLUSTER").ok();
        let ci = std::env::var("CI").is_ok_and(|ci| ci == "true");
        selects(self, choice.as_deref(), ci).unwrap_or_else(|refused| panic!("{refused}"))
    }
}

/// Whether the choice `WETIX_TEST_CLUSTER` holds (`None`: unset) selects `server`.
pub fn selects(server: Server, choice: Option<&str>, ci: bool) -> Result<bool, String> {
    let choice = choice.unwrap_or("both");
    // CI judges on both servers: nothing may quietly leave one out.
    if ci && choice != "both" {
        return Err(format!(
            "CI=true runs every test on both servers; WETIX_TEST_CLUSTER={choice} is refused"
        ));
    }
    match choice {
        "both" => Ok(true),
        "emulator" => Ok(server == Server::Emulator),
        "real" => Ok(server == Server::Real),
        other => Err(format!(
            "WETIX_TEST_CLUSTER={other}: expected emulator, real or both"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Server::{Emulator, Real};

    /// Whether [emulator, real] are selected, or how the refusal starts.
    type Want = Result<[bool; 2], &'static str>;

    #[test]
    fn the_choice_selects_servers_and_ci_refuses_to_leave_one_out() {
        let cases: [(Option<&str>, bool, Want); 8] = [
            (None, false, Ok([true, true])),
            (Some("both"), false, Ok([true, true])),
            (Some("emulator"), false, Ok([true, false])),
            (Some("real"), false, Ok([false, true])),
            (
                Some("kind"),
                false,
                Err("WETIX_TEST_CLUSTER=kind: expected"),
            ),
            (None, true, Ok([true, true])),
            (Some("both"), true, Ok([true, true])),
            (
                Some("emulator"),
                true,
                Err("CI=true runs every test on both"),
            ),
        ];
        for (choice, ci, want) in cases {
            let got = [Emulator, Real].map(|server| selects(server, choice, ci));
            match want {
                Ok(want) => assert_eq!(got, want.map(Ok), "{choice:?} ci={ci}"),
                Err(start) => assert!(
                    got.iter()
                        .all(|g| g.as_ref().is_err_and(|e| e.starts_with(start))),
                    "{choice:?} ci={ci}: {got:?}"
                ),
            }
        }
    }
}
