//! How identifiers and instants appear in the OpenAPI document: as the
//! strings and numbers they are written as, with their patterns. Wire
//! types name these in `#[schema(value_type = …)]`.

use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{KnownFormat, RefOr, SchemaFormat};
use utoipa::{PartialSchema, ToSchema};

fn string(description: &str, pattern: &str) -> RefOr<Schema> {
    RefOr::T(Schema::Object(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(description))
            .pattern(Some(pattern))
            .build(),
    ))
}

/// An id from the hall configuration (hall, zone, service, category) or
/// an appointment's code.
pub struct Id;

impl PartialSchema for Id {
    fn schema() -> RefOr<Schema> {
        string(
            "An id from the hall config: 1 to 23 of a-z, 0-9, _ and -.",
            "^[a-z0-9_-]{1,23}$",
        )
    }
}
impl ToSchema for Id {}

/// A ticket number.
pub struct TicketNo;

impl PartialSchema for TicketNo {
    fn schema() -> RefOr<Schema> {
        string(
            "A ticket number: the zone's prefix and its sequence, as A023.",
            "^[A-Z]{1,3}[0-9]{1,9}$",
        )
    }
}
impl ToSchema for TicketNo {}

/// An instant.
pub struct Instant;

impl PartialSchema for Instant {
    fn schema() -> RefOr<Schema> {
        RefOr::T(Schema::Object(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .description(Some("Unix time in milliseconds."))
                .build(),
        ))
    }
}
impl ToSchema for Instant {}
