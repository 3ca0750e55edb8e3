use super::*;
use crate::config::parse;

fn hall() -> HallConfig {
    let mut cfg = parse(include_str!("../../config/hall.toml"), "hall.toml")
        .unwrap()
        .halls
        .remove(0);
    cfg.accounts = vec![crate::config::Account {
        user: "w5".into(),
        role: Role::Window,
        password_hash: String::new(),
        windows: vec![5],
        pin_hash: None,
        card: Default::default(),
    }];
    cfg
}

#[test]
fn a_signed_token_names_its_account_and_nothing_else_passes() {
    let keys = Keys::from_secret(b"0123456789abcdef0123456789abcdef");
    let cfg = hall();
    let claims = Claims {
        hall: cfg.spec.id,
        user: "w5".into(),
        expires: 1_000,
        device: None,
        pass: false,
        started: None,
    };
    let token = keys.sign(&claims, "");
    let p = keys.verify(&token, &cfg, Millis(999)).unwrap();
    assert_eq!((p.role, p.windows.as_slice()), (Role::Window, &[5u16][..]));
    assert!(p.may_operate(5) && !p.may_operate(6));
    assert_eq!(keys.verify(&token, &cfg, Millis(1_000)), Err(TokenError::Expired));

    let other = Keys::from_secret(b"another secret, another server!!");
    assert_eq!(other.verify(&token, &cfg, Millis(0)), Err(TokenError::BadSignature));
    // Changing the payload breaks the signature.
    let (_, sig) = token.split_once('.').unwrap();
    let forged = keys.sign(
        &Claims {
            expires: 0,
            ..claims.clone()
        },
        "",
    );
    let (payload, _) = forged.split_once('.').unwrap();
    assert_eq!(
        keys.verify(&format!("{payload}.{sig}"), &cfg, Millis(0)),
        Err(TokenError::BadSignature)
    );
    assert_eq!(keys.verify("nonsense", &cfg, Millis(0)), Err(TokenError::Malformed));
    let gone = keys.sign(
        &Claims {
            user: "nobody".into(),
            ..claims.clone()
        },
        "",
    );
    assert_eq!(keys.verify(&gone, &cfg, Millis(0)), Err(TokenError::NoAccount));
    // A new password voids the tokens signed under the old one.
    let mut changed = cfg.clone();
    changed.accounts[0].password_hash = "$argon2id$…new".into();
    assert_eq!(keys.verify(&token, &changed, Millis(0)), Err(TokenError::BadSignature));
    let fresh = keys.sign(&claims, "$argon2id$…new");
    assert!(keys.verify(&fresh, &changed, Millis(0)).is_ok());
}

#[test]
fn a_ticket_token_opens_only_its_own_ticket() {
    let keys = Keys::from_secret(b"0123456789abcdef0123456789abcdef");
    let hall = HallId::new("qiaocheng").unwrap();
    let day = jiff::civil::date(2026, 11, 24);
    let number: TicketNumber = "A023".parse().unwrap();
    let token = keys.ticket_token(hall, day, number);
    assert_eq!(keys.open_ticket_token(&token), Some(TicketRef { hall, day, number }));
    // The next ticket's token cannot be made by editing this one.
    let edited = token.replace("A023", "A024");
    assert_eq!(keys.open_ticket_token(&edited), None);
    assert_eq!(keys.open_ticket_token("qiaocheng.20261124.A023"), None);
}

#[test]
fn person_keys_ignore_formatting_and_differ_per_person() {
    let keys = Keys::from_secret(b"0123456789abcdef0123456789abcdef");
    let a = keys.person_key("34160219700101123x");
    assert_eq!(a, keys.person_key("341602 19700101 123X"));
    assert_ne!(a, keys.person_key("341602197001011234"));
    let other = Keys::from_secret(b"another secret, another server!!");
    assert_ne!(
        a,
        other.person_key("34160219700101123x"),
        "keyed by the server's secret"
    );
}

#[test]
fn passwords_verify_only_against_their_hash() {
    let h = hash_password("窗口5 password").unwrap();
    assert!(h.starts_with("$argon2id$"));
    assert!(verify_password("窗口5 password", &h));
    assert!(!verify_password("窗口5 passworD", &h));
    assert!(!verify_password("x", "not a hash"));
}

#[test]
fn a_device_accounts_token_names_a_device_and_a_persons_never_does() {
    let keys = Keys::from_secret(b"0123456789abcdef0123456789abcdef");
    let mut cfg = hall();
    cfg.accounts.push(crate::config::Account {
        user: "screen".into(),
        role: Role::Display,
        password_hash: String::new(),
        windows: vec![],
        pin_hash: None,
        card: Default::default(),
    });
    let token = |user: &str, device: Option<&str>| {
        keys.sign(
            &Claims {
                hall: cfg.spec.id,
                user: user.into(),
                expires: 0,
                device: device.map(str::to_owned),
                pass: false,
                started: None,
            },
            "",
        )
    };
    let p = keys
        .verify(&token("screen", Some("dev-0001")), &cfg, Millis(5))
        .unwrap();
    assert_eq!(p.device.as_deref(), Some("dev-0001"));
    // A display token from before device sign-ins, and a person's token
    // that claims a device, are both refused.
    assert_eq!(
        keys.verify(&token("screen", None), &cfg, Millis(5)),
        Err(TokenError::DeviceRevoked)
    );
    assert_eq!(
        keys.verify(&token("w5", Some("dev-0001")), &cfg, Millis(5)),
        Err(TokenError::DeviceRevoked)
    );
}
