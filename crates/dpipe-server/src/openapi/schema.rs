//! Small constructors for the JSON Schemas the document states by hand (request bodies,
//! error bodies, parameters), so each rule reads as one line, and [`object_schema!`], which
//! names one of them as a schema component.

use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, SchemaType, Type};
use utoipa::openapi::{KnownFormat, SchemaFormat};

/// A string.
pub(super) fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

/// A string or null.
pub(super) fn nullable_string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::String, Type::Null]))
}

/// A string that must hold something other than whitespace (the registry refuses blank
/// strings where it requires a value).
pub(super) fn non_blank_string() -> ObjectBuilder {
    string().min_length(Some(1)).pattern(Some("\\S"))
}

/// One of `values`.
pub(super) fn one_of_strings<'a>(values: impl IntoIterator<Item = &'a str>) -> ObjectBuilder {
    string().enum_values(Some(values))
}

/// A JSON object with any members.
pub(super) fn free_object() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(
            AdditionalProperties::<utoipa::openapi::Schema>::FreeForm(true),
        ))
}

/// A JSON object with any members, or null.
pub(super) fn nullable_free_object() -> ObjectBuilder {
    free_object().schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
}

/// `format` of a string.
pub(super) fn format(known: KnownFormat) -> Option<SchemaFormat> {
    Some(SchemaFormat::KnownFormat(known))
}

/// Declares a unit type that stands for the schema `$build` makes, to name it in
/// `#[utoipa::path]` annotations and the document's components.
macro_rules! object_schema {
    ($(#[$doc:meta])* $name:ident => $build:expr) => {
        $(#[$doc])*
        pub(crate) struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                let build: fn() -> utoipa::openapi::schema::ObjectBuilder = $build;
                utoipa::openapi::schema::Schema::Object(build().build()).into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}
pub(super) use object_schema;
