use super::*;

#[test]
fn fingerprint_is_sixteen_hex_digits_of_sha256() {
    // SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
    assert_eq!(fingerprint(&Sensitive::new("abc")), "ba7816bf8f01cfea");
}

#[test]
fn a_lifetime_is_expired_from_its_expiry_on() {
    let issued_at: Timestamp = "2026-11-25T10:00:00Z".parse().unwrap();
    let expires_at: Timestamp = "2026-11-25T11:00:00Z".parse().unwrap();
    let lifetime = Lifetime {
        issued_at,
        expires_at,
    };
    assert_eq!(lifetime.length(), SignedDuration::from_hours(1));
    assert!(!lifetime.is_expired(issued_at));
    assert!(lifetime.is_expired(expires_at));
}
