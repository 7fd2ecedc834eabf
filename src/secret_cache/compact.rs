//! The strings of a written record in fewer bytes. What the operator keeps of every managed
//! Secret is mostly three strings of known shapes: the refresh token, a JWT whose three parts
//! are base64url (WeTix issues them so); the writer's UID, a UUID; and the client the tokens
//! were issued for, a hex fingerprint. Each is kept as the bytes it spells: a quarter less for
//! the token, half for the others, about 110 bytes a credential.
//!
//! Exact: [`unpack`] gives back the very string [`pack`] was given. A string of none of these
//! shapes, or one whose form would not be shorter, is kept as it is.

use std::borrow::Cow;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

/// The form a string is kept in: the first byte of what [`pack`] writes.
const TEXT: u8 = 0;
/// Lowercase hex of even length, as its bytes.
const HEX: u8 = 1;
/// A UUID in its canonical form (lowercase, `8-4-4-4-12`), as its 16 bytes.
const UUID: u8 = 2;
/// Parts separated by `.`, each canonical unpadded base64url: each part decoded, after its
/// length (2 bytes, little endian).
const BASE64URL: u8 = 3;

/// Where the dashes of a canonical UUID are.
const UUID_DASHES: [usize; 4] = [8, 13, 18, 23];

/// Appends `s` to `out` in the shortest form it fits.
pub fn pack(s: &str, out: &mut Vec<u8>) {
    let candidates = [hex(s).map(|b| (HEX, b)), uuid(s).map(|b| (UUID, b))];
    let shortest = candidates
        .into_iter()
        .flatten()
        .chain(base64url(s).map(|b| (BASE64URL, b)))
        .min_by_key(|(_, bytes)| bytes.len())
        .filter(|(_, bytes)| bytes.len() < s.len());
    match shortest {
        Some((form, bytes)) => {
            out.push(form);
            out.extend_from_slice(&bytes);
        }
        None => {
            out.push(TEXT);
            out.extend_from_slice(s.as_bytes());
        }
    }
}

/// The string `packed` (all of what one [`pack`] wrote) holds. `None` only if the bytes were
/// not written by [`pack`].
pub fn unpack(packed: &[u8]) -> Option<Cow<'_, str>> {
    let (&form, bytes) = packed.split_first()?;
    match form {
        TEXT => std::str::from_utf8(bytes).ok().map(Cow::Borrowed),
        HEX => Some(Cow::Owned(to_hex(bytes))),
        UUID => {
            let mut s = to_hex(bytes);
            if s.len() != 32 {
                return None;
            }
            for at in UUID_DASHES {
                s.insert(at, '-');
            }
            Some(Cow::Owned(s))
        }
        BASE64URL => {
            let mut s = String::new();
            let mut rest = bytes;
            loop {
                let (len, after) = rest.split_first_chunk::<2>()?;
                let (part, after) =
                    after.split_at_checked(usize::from(u16::from_le_bytes(*len)))?;
                URL_SAFE_NO_PAD.encode_string(part, &mut s);
                rest = after;
                if rest.is_empty() {
                    return Some(Cow::Owned(s));
                }
                s.push('.');
            }
        }
        _ => None,
    }
}

fn hex(s: &str) -> Option<Vec<u8>> {
    let lowercase_hex = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
    let (pairs, []) = s.as_bytes().as_chunks::<2>() else {
        return None;
    };
    if pairs.is_empty() || !s.bytes().all(lowercase_hex) {
        return None;
    }
    let nibble = |c: u8| {
        if c.is_ascii_digit() {
            c - b'0'
        } else {
            c - b'a' + 10
        }
    };
    Some(
        pairs
            .iter()
            .map(|&[high, low]| nibble(high) << 4 | nibble(low))
            .collect(),
    )
}

fn uuid(s: &str) -> Option<Vec<u8>> {
    let dash = |at: &usize| s.as_bytes().get(*at) == Some(&b'-');
    if s.len() != 36 || !UUID_DASHES.iter().all(dash) {
        return None;
    }
    let digits: String = s.split('-').collect();
    let bytes = hex(&digits)?;
    (bytes.len() == 16).then_some(bytes)
}

fn base64url(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    for part in s.split('.') {
        let decoded = URL_SAFE_NO_PAD.decode(part).ok()?;
        // Only the canonical spelling comes back the same: no stray bits in the last
        // character.
        if URL_SAFE_NO_PAD.encode(&decoded) != part {
            return None;
        }
        let len = u16::try_from(decoded.len()).ok()?;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&decoded);
    }
    Some(out)
}

fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn packed(s: &str) -> Vec<u8> {
        let mut out = vec![];
        pack(s, &mut out);
        out
    }

    #[test]
    fn the_strings_a_record_keeps_take_fewer_bytes_and_come_back_exactly() {
        // A refresh token as WeTix issues it: an HS256 JWT, its signature 32 bytes.
        let header = br#"{"alg":"HS256","typ":"JWT"}"#;
        let claims =
            br#"{"exp":1900000000,"iat":1800000000,"tokenType":"refresh_token","sub":"client-7"}"#;
        let signature = [0xa7; 32];
        let token = [&header[..], claims, &signature]
            .map(|p| URL_SAFE_NO_PAD.encode(p))
            .join(".");
        let decoded = header.len() + claims.len() + signature.len();
        let cases = [
            // (string, its form, bytes kept)
            (token.as_str(), BASE64URL, 1 + 3 * 2 + decoded),
            ("0c6f1e6e-3b0a-4f58-9a55-2f0c1f7d8e21", UUID, 17),
            ("9f86d081884c7d65", HEX, 9),
            ("48213", TEXT, 6),
            ("", TEXT, 1),
        ];
        for (s, form, len) in cases {
            let kept = packed(s);
            assert_eq!((kept[0], kept.len()), (form, len), "{s}");
            assert_eq!(unpack(&kept).as_deref(), Some(s));
        }
    }

    #[test]
    fn a_string_almost_of_a_shape_takes_another_form_and_still_comes_back_exactly() {
        for (s, form) in [
            // Uppercase: as hex or a UUID it would come back lowercase; it is base64url.
            ("9F86D081884C7D65", BASE64URL),
            ("0C6F1E6E-3B0A-4F58-9A55-2F0C1F7D8E21", BASE64URL),
            // Odd length, so not hex, and stray bits in its last character for base64url.
            ("9f86d081884c7d6", TEXT),
            // Base64url with stray bits, with padding, or with `+` and `/`.
            ("QR.QQ", TEXT),
            ("QQ==.QQ", TEXT),
            ("a+b/cdef.ghij", TEXT),
            // Shorter as it is: each part costs two bytes of length.
            ("AA.AA.AA", TEXT),
            ("ünïcode", TEXT),
        ] {
            let kept = packed(s);
            assert_eq!(kept[0], form, "{s}");
            assert_eq!(unpack(&kept).as_deref(), Some(s));
        }
    }

    #[test]
    fn a_token_with_a_part_too_long_for_its_length_is_kept_as_it_is() {
        // WeTix's answer is hostile input: a part that decodes to more than 65,535 bytes.
        let long = "A".repeat(87_384);
        for (s, form) in [
            (format!("{long}.AAAA"), TEXT),
            (long[4..].to_owned(), BASE64URL),
        ] {
            let kept = packed(&s);
            assert_eq!(kept[0], form, "{} characters", s.len());
            assert_eq!(unpack(&kept).as_deref(), Some(s.as_str()));
        }
    }

    #[test]
    fn bytes_not_written_by_pack_unpack_to_nothing() {
        for bytes in [
            &[][..],
            &[9, b'a'],
            &[TEXT, 0xff],
            &[UUID, 1, 2, 3],
            &[BASE64URL, 5, 0, 1],
            &[BASE64URL],
        ] {
            assert_eq!(unpack(bytes), None, "{bytes:?}");
        }
    }

    proptest! {
        #[test]
        fn any_string_comes_back_exactly(s in "\\PC{0,40}|[0-9a-f-]{0,40}|[A-Za-z0-9_.=+/-]{0,60}") {
            let kept = packed(&s);
            prop_assert!(kept.len() <= s.len() + 1);
            let back = unpack(&kept);
            prop_assert_eq!(back.as_deref(), Some(s.as_str()));
        }
    }
}
