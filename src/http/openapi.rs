//! `GET /api/v1/openapi.json`: the API described from the handlers' own
//! annotations and types, so it cannot drift from the code.

use axum::Json;
use axum::routing::get;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "hallcall",
        description = "Queue calling and hall displays for government service halls. Live updates: docs/protocol.md (WebSocket, `GET /api/v1/halls/{hall}/live`)."
    ),
    paths(
        super::session::login,
        super::session::sign_out,
        super::session::pass,
        super::session::sign_out_account,
        super::ratings::list,
        super::evaluator::card,
        super::evaluator::rate,
        super::devices::list,
        super::devices::create,
        super::devices::revoke,
        super::devices::unlock,
        super::devices::start,
        super::devices::poll,
        super::devices::approve,
        super::halls::list,
        super::halls::hall_view,
        super::halls::zones,
        super::halls::zone,
        super::halls::windows,
        super::halls::window,
        super::halls::command,
        super::halls::acknowledge,
        super::advice::advice,
        super::tickets::issue,
        super::tickets::check_in,
        super::appointments::book,
        super::appointments::list,
        super::appointments::one,
        super::appointments::check_in,
        super::appointments::cancel,
        super::tickets::mobile,
        super::tickets::challenge,
        super::tickets::cancel_phone_tickets,
        super::tickets::lookup,
        super::tickets::cancel,
        super::tickets::reactivate,
        super::tickets::move_ticket,
        super::tickets::citizen,
        super::tickets::qr,
        super::tickets::rate,
        super::tickets::follow_up,
        super::windows::act,
        super::announcements::announcement,
        super::announcements::announcement_text,
        super::reports::json_report,
        super::reports::csv_report,
        super::reports::archive_status,
        super::audit::audit,
        super::outbox::status,
        super::outbox::resend,
        super::outbox::replay,
        super::printing::reprint,
        super::config::current,
        super::config::replace,
        super::config::edit,
        super::config::version,
    ),
    modifiers(&Bearer, &IdempotencyKey, &Refusals, &Readings),
    tags(
        (name = "public", description = "No sign-in: hall list, sign-in, phones, the citizen's ticket (rate-limited)"),
        (name = "tickets", description = "The guide desk and kiosks"),
        (name = "windows", description = "Window staff"),
        (name = "supervision", description = "Supervisors"),
        (name = "halls", description = "Reading a hall: any account of it, displays included"),
        (name = "admin", description = "Administrators"),
    )
)]
pub struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// POSTs that take no `Idempotency-Key`: signing in and pairing, and what a
/// repeat refuses by itself (a device revoked or a code entered twice).
const UNKEYED: &[&str] = &[
    "/api/v1/login",
    "/api/v1/halls/{hall}/pairings",
    "/api/v1/halls/{hall}/pairings/{code}/approve",
    "/api/v1/halls/{hall}/devices",
    "/api/v1/halls/{hall}/devices/unlock",
    "/api/v1/halls/{hall}/devices/{device}/revoke",
    "/api/v1/halls/{hall}/sign-out",
    "/api/v1/halls/{hall}/passes",
    "/api/v1/halls/{hall}/accounts/{user}/sign-out",
];

/// Every other POST takes an `Idempotency-Key` (see `keyed.rs`).
struct IdempotencyKey;

impl Modify for IdempotencyKey {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
        use utoipa::openapi::{ObjectBuilder, Required, Type};
        let param: Parameter = ParameterBuilder::new()
            .name("Idempotency-Key")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "1 to 128 visible ASCII characters (a UUID). A repeat of this request with the same key, \
                 by the same account within the business day, runs nothing and gets the first answer again \
                 (with `Idempotent-Replayed: true`), also after a restart; the key with a different request \
                 is refused with 422 `idempotency_key_reused`. Refusals are not kept.",
            ))
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(super::keyed::MAX_KEY)),
            ))
            .build();
        for (path, item) in &mut api.paths.paths {
            if UNKEYED.contains(&path.as_str()) {
                continue;
            }
            if let Some(post) = item.post.as_mut() {
                post.parameters.get_or_insert_with(Vec::new).push(param.clone());
            }
        }
    }
}

/// The refusals every route of a kind can answer, added where a route's
/// own annotation leaves them out, so a client (or a fuzzer) meets no
/// status the document does not name: a body can be malformed (400), not
/// JSON (415) or invalid (422); an `Idempotency-Key` malformed (400) or
/// reused (422); a hall unknown (404); a path value malformed (400, 422)
/// or unknown (404).
struct Refusals;

impl Modify for Refusals {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorDoc")))
                        .build(),
                )
                .build()
        };
        for (path, item) in &mut api.paths.paths {
            let has_hall = path.contains("{hall}");
            let other_params = path.matches('{').count() > usize::from(has_hall);
            for op in [item.get.as_mut(), item.post.as_mut()].into_iter().flatten() {
                let keyed = op
                    .parameters
                    .as_ref()
                    .is_some_and(|ps| ps.iter().any(|p| p.name == "Idempotency-Key"));
                let mut add = |status: &str, why: &str| {
                    op.responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| error(why).into());
                };
                if op.request_body.is_some() {
                    add("400", "Malformed JSON");
                    add("415", "The body is not application/json");
                    add("422", "A field is missing, unknown or invalid");
                }
                if keyed {
                    add("400", "A malformed Idempotency-Key");
                    add("422", "The Idempotency-Key was used for another request");
                }
                if has_hall {
                    add("404", "Unknown hall");
                }
                if other_params {
                    add("400", "A malformed path value");
                    add("404", "Unknown hall, zone, window, ticket or code");
                    add("422", "A path value that is not valid");
                }
            }
        }
    }
}

/// A reading is the staff's or the display's shape: a staff reading holds
/// every field of the display's, so it matches both and `oneOf` (what an
/// untagged enum becomes) could never be satisfied; `anyOf` says it.
struct Readings;

impl Modify for Readings {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::schema::{AnyOfBuilder, Schema};
        let Some(components) = api.components.as_mut() else {
            return;
        };
        for (name, schema) in &mut components.schemas {
            if !name.starts_with("Read_") {
                continue;
            }
            if let RefOr::T(Schema::OneOf(one)) = schema {
                let any = std::mem::take(&mut one.items)
                    .into_iter()
                    .fold(AnyOfBuilder::new(), AnyOfBuilder::item)
                    .description(one.description.take());
                *schema = RefOr::T(Schema::AnyOf(any.build()));
            }
        }
    }
}

pub fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/api/v1/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
}
