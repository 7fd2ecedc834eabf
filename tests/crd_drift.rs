//! The committed CRD must be exactly what the types print; regenerate with
//! `cargo run -- crd > crds/wetixcredentials.yaml`.

#[test]
fn committed_crd_matches_the_types() {
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crds/wetixcredentials.yaml"
    ))
    .expect("crds/wetixcredentials.yaml exists");
    assert!(
        committed == wetix_operator::credential::crd_yaml(),
        "crds/wetixcredentials.yaml is out of date: run `cargo run -- crd > crds/wetixcredentials.yaml`"
    );
}
