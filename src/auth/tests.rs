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
        granted: None,
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
                granted: None,
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

#[test]
fn a_directory_token_carries_its_grant_and_ends_with_the_halls_mappings() {
    let keys = Keys::from_secret(b"0123456789abcdef0123456789abcdef");
    let mut cfg = hall();
    cfg.directory_groups = vec![crate::config::DirectoryGroup {
        group: "cn=intake,dc=x".into(),
        role: Role::Window,
        windows: vec![1, 2],
    }];
    let (role, windows) = cfg.directory_role(&["cn=intake,dc=x".into()]).unwrap();
    assert_eq!((role, windows.as_slice()), (Role::Window, &[1u16, 2][..]));
    assert_eq!(cfg.directory_role(&["cn=other,dc=x".into()]), None);
    let claims = Claims {
        hall: cfg.spec.id,
        user: "liming".into(),
        expires: 1_000,
        device: None,
        pass: false,
        started: None,
        granted: Some(Granted {
            role,
            windows,
            label: "李明（工号0305）".into(),
        }),
    };
    let token = keys.sign(&claims, &cfg.directory_binding());
    let p = keys.verify(&token, &cfg, Millis(0)).unwrap();
    assert!(p.from_directory && p.may_operate(2) && !p.may_operate(5));
    assert_eq!(p.label, "李明（工号0305）");
    // A pass keeps the grant.
    let pass = keys.pass(&p, &cfg, Millis(0)).unwrap();
    let by_pass = keys.verify(&pass, &cfg, Millis(0)).unwrap();
    assert!(by_pass.by_pass && by_pass.from_directory && by_pass.may_operate(1));
    // Signed under anything else, the grant is refused: the role in the
    // token is only believed under the server's key and these mappings.
    let forged = keys.sign(
        &Claims {
            granted: Some(Granted {
                role: Role::Admin,
                windows: vec![],
                label: String::new(),
            }),
            ..claims.clone()
        },
        "",
    );
    assert_eq!(keys.verify(&forged, &cfg, Millis(0)), Err(TokenError::BadSignature));
    let mut changed = cfg.clone();
    changed.directory_groups[0].windows = vec![1];
    assert_eq!(keys.verify(&token, &changed, Millis(0)), Err(TokenError::BadSignature));
    let mut none = cfg.clone();
    none.directory_groups.clear();
    assert_eq!(keys.verify(&token, &none, Millis(0)), Err(TokenError::NoAccount));
    // A local account of that name, added since, is not the directory's.
    let mut local = cfg.clone();
    local.accounts[0].user = "liming".into();
    assert_eq!(keys.verify(&token, &local, Millis(0)), Err(TokenError::NoAccount));
}
