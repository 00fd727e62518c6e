//! Domain types with their validation: raw input becomes these at the edge, and nothing inside
//! the server sees an unchecked string.

pub mod case;
pub mod client;
pub mod communication;
pub mod input;
pub mod time;
pub mod user;

/// Declares a closed set of lowercase string values: parsing with a message that lists them,
/// `as_str`, serialisation as the plain string, and its OpenAPI schema (a string enum).
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The message given when a value is not one of these.
            pub fn expected() -> String {
                let names: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                format!("must be one of {}", names.join(", "))
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(value: &str) -> Result<Self, String> {
                match value {
                    $($text => Ok($name::$variant),)+
                    _ => Err(Self::expected()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        /// In the OpenAPI document: a string, one of the values.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),+]))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}
pub(crate) use string_enum;

string_enum! {
    /// How a contact reached the helpline.
    Channel {
        Call => "call", Sms => "sms", Email => "email", Chat => "chat",
        Whatsapp => "whatsapp", WalkIn => "walk_in", Web => "web",
    }
}
