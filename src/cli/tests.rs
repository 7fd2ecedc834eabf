use super::*;

#[test]
fn the_command_line_is_consistent() {
    Cli::command().debug_assert();
    Invocation::KubectlPlugin.command().debug_assert();
}

#[test]
fn every_flag_has_a_long_name() {
    fn check(command: &clap::Command) {
        for arg in command.get_arguments() {
            let builtin = ["help", "version"].contains(&arg.get_id().as_str());
            assert!(
                arg.is_positional() || arg.get_long().is_some() || builtin,
                "{} --{}",
                command.get_name(),
                arg.get_id()
            );
        }
        command.get_subcommands().for_each(check);
    }
    check(&Cli::command());
}

#[test]
fn argv0_picks_the_invocation() {
    let cases = [
        ("wetix-operator", Invocation::Operator),
        ("/usr/local/bin/wetix-operator", Invocation::Operator),
        ("kubectl-wetix", Invocation::KubectlPlugin),
        (
            "/home/me/.local/bin/kubectl-wetix",
            Invocation::KubectlPlugin,
        ),
        ("C:/bin/kubectl-wetix.exe", Invocation::KubectlPlugin),
        ("kubectl-wetix-old", Invocation::Operator),
        ("kubectl", Invocation::Operator),
        ("", Invocation::Operator),
    ];
    for (argv0, expected) in cases {
        let got = Invocation::from_argv0(Some(std::ffi::OsStr::new(argv0)));
        assert_eq!(got, expected, "{argv0}");
    }
    assert_eq!(Invocation::from_argv0(None), Invocation::Operator);
}

#[test]
fn the_plugin_parses_the_same_subcommands_and_names_itself_in_help() {
    let (invocation, cli) = Cli::try_parse_invoked(["/x/kubectl-wetix", "status", "-A"]).unwrap();
    assert_eq!(invocation, Invocation::KubectlPlugin);
    let Command::Status(args) = cli.command else {
        panic!("expected status")
    };
    assert!(args.all_namespaces);
    let help = Cli::try_parse_invoked(["kubectl-wetix", "refresh", "--help"])
        .unwrap_err()
        .to_string();
    assert!(help.contains("Usage: kubectl wetix refresh"), "{help}");
    let help = Cli::try_parse_invoked(["wetix-operator", "--help"])
        .unwrap_err()
        .to_string();
    assert!(help.contains("Usage: wetix-operator"), "{help}");
}

#[test]
fn status_takes_a_namespace_or_all_but_not_both() {
    let (_, cli) =
        Cli::try_parse_invoked(["wetix-operator", "status", "-n", "shop", "ticketing"]).unwrap();
    let Command::Status(args) = cli.command else {
        panic!("expected status")
    };
    assert_eq!(args.namespace.namespace.as_deref(), Some("shop"));
    assert_eq!(args.name.as_deref(), Some("ticketing"));
    assert_eq!(args.output, OutputFormat::Table);
    for bad in [
        &["status", "-A", "-n", "shop"][..],
        &["status", "-A", "ticketing"],
        &["status", "-o", "wide"],
    ] {
        let argv = std::iter::once("wetix-operator").chain(bad.iter().copied());
        assert!(Cli::try_parse_invoked(argv).is_err(), "{bad:?}");
    }
}

#[test]
fn refresh_timeout_is_a_go_duration_and_needs_wait() {
    let (_, cli) = Cli::try_parse_invoked([
        "wetix-operator",
        "refresh",
        "ticketing",
        "--wait",
        "--timeout",
        "2m",
    ])
    .unwrap();
    let Command::Refresh(args) = cli.command else {
        panic!("expected refresh")
    };
    assert_eq!(args.timeout.as_duration().as_secs(), 120);
    let err =
        Cli::try_parse_invoked(["wetix-operator", "refresh", "x", "--timeout", "1s"]).unwrap_err();
    assert!(err.to_string().contains("--wait"), "{err}");
    let err = Cli::try_parse_invoked([
        "wetix-operator",
        "refresh",
        "x",
        "--wait",
        "--timeout",
        "soon",
    ])
    .unwrap_err();
    assert!(err.to_string().contains("--timeout"), "{err}");
}

#[test]
fn token_needs_exactly_one_server_and_names_bad_flags() {
    let (_, cli) =
        Cli::try_parse_invoked(["wetix-operator", "token", "--environment", "sandbox"]).unwrap();
    let Command::Token(args) = cli.command else {
        panic!("expected token")
    };
    assert_eq!(args.environment, Some(ServerEnvironment::Sandbox));
    assert_eq!(args.token_path, "/auth/token");
    assert_eq!(args.refresh_path, "/auth/refresh");
    let cases: [(&[&str], &str); 4] = [
        (&["token"], "--environment"),
        (
            &[
                "token",
                "--environment",
                "Sandbox",
                "--server-url",
                "https://x",
            ],
            "--server-url",
        ),
        (&["token", "--environment", "Staging"], "--environment"),
        (
            &["token", "--environment", "Sandbox", "--token-path", "auth"],
            "--token-path",
        ),
    ];
    for (argv, flag) in cases {
        let argv = std::iter::once("wetix-operator").chain(argv.iter().copied());
        let err = Cli::try_parse_invoked(argv).unwrap_err().to_string();
        assert!(err.contains(flag), "{flag}: {err}");
    }
}

#[test]
fn the_client_secret_cannot_be_passed_on_the_command_line() {
    for flag in ["--client-secret", "--client-id"] {
        let err = Cli::try_parse_invoked([
            "wetix-operator",
            "token",
            "--environment",
            "Sandbox",
            flag,
            "value",
        ])
        .unwrap_err();
        assert_eq!(
            err.kind(),
            clap::error::ErrorKind::UnknownArgument,
            "{flag}"
        );
    }
}

#[test]
fn run_defaults_match_the_contract() {
    let cli = Cli::try_parse_from(["wetix-operator", "run"]).unwrap();
    let Command::Run(args) = cli.command else {
        panic!("expected run")
    };
    assert!(args.namespaces.is_empty());
    assert!(args.allowed_server_urls.is_empty());
    assert_eq!(args.metrics_bind_address.to_string(), "0.0.0.0:8080");
    assert!(!args.leader_elect);
    assert_eq!(args.log_format, LogFormat::Text);
}

#[test]
fn lists_are_comma_separated() {
    let cli = Cli::try_parse_from([
        "wetix-operator",
        "run",
        "--namespaces",
        "shop,billing",
        "--allowed-server-urls=https://a.example,https://b.example",
        "--log-format",
        "json",
    ])
    .unwrap();
    let Command::Run(args) = cli.command else {
        panic!("expected run")
    };
    assert_eq!(args.namespaces, ["shop", "billing"]);
    assert_eq!(
        args.allowed_server_urls,
        ["https://a.example", "https://b.example"]
    );
    assert_eq!(args.log_format, LogFormat::Json);
}

#[test]
fn a_bad_value_names_the_flag() {
    let err = Cli::try_parse_from(["wetix-operator", "run", "--log-format", "xml"]).unwrap_err();
    assert!(err.to_string().contains("--log-format"), "{err}");
    let err = Cli::try_parse_from(["wetix-operator", "run", "--metrics-bind-address", "nope"])
        .unwrap_err();
    assert!(err.to_string().contains("--metrics-bind-address"), "{err}");
}

#[test]
fn leader_election_refuses_to_start_without_an_identity_of_its_own() {
    let refused: [&[&str]; 3] = [
        &["--leader-elect"],
        &["--leader-elect", "--identity", ""],
        &["--leader-elect", "--identity", "wetix-operator"],
    ];
    for flags in refused {
        let args = ["wetix-operator", "run"].iter().chain(flags);
        let err = Cli::try_parse_invoked(args).unwrap_err();
        assert_eq!(err.exit_code(), 2, "{flags:?}");
        let message = err.to_string();
        assert!(
            message.contains("--leader-elect needs an identity unique to each replica")
                && message.contains("--identity")
                && message.contains("POD_NAME"),
            "{flags:?}: {message}"
        );
    }
    let accepted: [&[&str]; 3] = [
        &[],
        &["--identity", ""],
        &["--leader-elect", "--identity", "wetix-operator-7d9f-x2"],
    ];
    for flags in accepted {
        let args = ["wetix-operator", "run"].iter().chain(flags);
        let (_, cli) = Cli::try_parse_invoked(args).unwrap_or_else(|e| panic!("{flags:?}: {e}"));
        assert!(matches!(cli.command, Command::Run(_)), "{flags:?}");
    }
}

#[test]
fn the_credential_selector_is_parsed_at_start_up_and_a_bad_one_names_the_flag() {
    let (_, cli) = Cli::try_parse_invoked([
        "wetix-operator",
        "run",
        "--credential-selector",
        "shard in (a,b),!legacy",
    ])
    .unwrap();
    let Command::Run(args) = cli.command else {
        panic!("expected run")
    };
    assert_eq!(
        args.credential_selector()
            .map(ToString::to_string)
            .as_deref(),
        Some("shard in (a,b),!legacy")
    );
    assert_eq!(args.lease_name, "wetix-operator");
    let cases = [
        ("shard in a", "expected '('"),
        ("Shard_=a", "not a valid label key"),
        ("shard=a_", "not a valid value"),
        ("shard>1", "not supported"),
    ];
    for (selector, why) in cases {
        let err =
            Cli::try_parse_invoked(["wetix-operator", "run", "--credential-selector", selector])
                .unwrap_err();
        assert_eq!(err.exit_code(), 2, "{selector}");
        let message = err.to_string();
        assert!(
            message.contains("--credential-selector") && message.contains(why),
            "{selector}: {message}"
        );
    }
}

#[test]
fn without_a_selector_every_credential_is_run_and_the_lease_keeps_its_name() {
    for flags in [
        &[][..],
        &["--credential-selector", ""],
        &["--credential-selector", " "],
    ] {
        let args = ["wetix-operator", "run"].iter().chain(flags);
        let (_, cli) = Cli::try_parse_invoked(args).unwrap_or_else(|e| panic!("{flags:?}: {e}"));
        let Command::Run(args) = cli.command else {
            panic!("expected run")
        };
        assert!(args.credential_selector().is_none(), "{flags:?}");
        assert_eq!(args.lease_name, crate::leader::LEASE_NAME, "{flags:?}");
    }
}

#[test]
fn the_lease_name_must_be_a_name_the_api_server_accepts() {
    let (_, cli) = Cli::try_parse_invoked([
        "wetix-operator",
        "run",
        "--lease-name",
        "wetix-operator-shard-a",
    ])
    .unwrap();
    let Command::Run(args) = cli.command else {
        panic!("expected run")
    };
    assert_eq!(args.lease_name, "wetix-operator-shard-a");
    for bad in ["", "Shard_A", "-a", "a..b"] {
        let flag = format!("--lease-name={bad}");
        let err = Cli::try_parse_invoked(["wetix-operator", "run", &flag]).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("--lease-name") && message.contains("not a valid Lease name"),
            "{bad:?}: {message}"
        );
    }
}

#[test]
fn a_leader_elected_shard_refuses_to_start_on_the_default_lease() {
    let base = [
        "wetix-operator",
        "run",
        "--leader-elect",
        "--identity",
        "pod-1",
    ];
    let refused: [&[&str]; 2] = [
        &["--credential-selector", "shard=a"],
        &[
            "--credential-selector",
            "shard=a",
            "--lease-name",
            "wetix-operator",
        ],
    ];
    for flags in refused {
        let err = Cli::try_parse_invoked(base.iter().chain(flags)).unwrap_err();
        assert_eq!(err.exit_code(), 2, "{flags:?}");
        let message = err.to_string();
        assert!(
            message.contains("--credential-selector with --leader-elect needs a --lease-name")
                && message.contains("\"wetix-operator\""),
            "{flags:?}: {message}"
        );
    }
    let accepted: [(&[&str], &[&str]); 3] = [
        (
            &base,
            &[
                "--credential-selector",
                "shard=a",
                "--lease-name",
                "wetix-operator-shard-a",
            ],
        ),
        (&base, &["--credential-selector", ""]),
        (
            &["wetix-operator", "run"],
            &["--credential-selector", "shard=a"],
        ),
    ];
    for (base, flags) in accepted {
        let args = base.iter().chain(flags);
        let (_, cli) = Cli::try_parse_invoked(args).unwrap_or_else(|e| panic!("{flags:?}: {e}"));
        assert!(matches!(cli.command, Command::Run(_)), "{flags:?}");
    }
}
