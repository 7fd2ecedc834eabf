//! `wetix-operator completion SHELL` as a user runs it: the real binary prints a script for
//! each shell, and bash, having loaded it, completes subcommands and flag values.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_wetix-operator");

fn completion(shell: &str) -> std::process::Output {
    Command::new(BIN)
        .args(["completion", shell])
        .output()
        .expect("the binary runs")
}

#[test]
fn each_shell_gets_a_script_naming_every_subcommand() {
    for shell in ["bash", "zsh", "fish"] {
        let out = completion(shell);
        assert!(out.status.success(), "{shell}: {out:?}");
        let script = String::from_utf8(out.stdout).expect("UTF-8");
        for subcommand in ["run", "crd", "status", "refresh", "token", "completion"] {
            assert!(script.contains(subcommand), "{shell}: no {subcommand}");
        }
    }
}

#[test]
fn an_unknown_shell_exits_2_and_names_the_shells() {
    let out = completion("tcsh");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bash, zsh, fish"), "{stderr}");
}

/// What bash offers after loading the script, for the words typed so far (the last one being
/// completed), one candidate a line.
fn bash_completes(words: &[&str]) -> Vec<String> {
    let script = String::from_utf8(completion("bash").stdout).expect("UTF-8");
    let dir = std::env::temp_dir().join(format!("wetix-completion-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("wetix-operator.bash");
    std::fs::write(&path, script).expect("script written");
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source {path}; COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE=\"${{COMP_WORDS[*]}}\"; \
         COMP_POINT=${{#COMP_LINE}}; \"$(complete -p wetix-operator | sed -E 's/.*-F ([^ ]+).*/\\1/')\" \
         wetix-operator \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        path = path.display(),
        words = quoted.join(" "),
        cword = words.len() - 1,
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .expect("bash runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completes_subcommands_and_flag_values() {
    assert_eq!(bash_completes(&["wetix-operator", "st"]), ["status"]);
    assert_eq!(
        bash_completes(&["wetix-operator", "status", "-o", ""]),
        ["table", "json", "yaml"]
    );
    assert_eq!(
        bash_completes(&["wetix-operator", "token", "--environment", ""]),
        ["Sandbox", "Production"]
    );
}
