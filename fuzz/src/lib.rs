//! What the fuzz targets share: types derived from the input, the provider's own schemas, and
//! the plugin server driven the way Terraform drives it.

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::arbitrary::{self, Unstructured};
use terraform_provider_gitopsbridge::protocol::guard::PANIC_SUMMARY;
use terraform_provider_gitopsbridge::protocol::server::ProviderService;
use terraform_provider_gitopsbridge::protocol::wire::tfplugin6 as pb;
use terraform_provider_gitopsbridge::protocol::{Provider, Type};
use terraform_provider_gitopsbridge::provider::GitOpsBridge;

/// Deepest type [`arbitrary_type`] builds: deep enough for every schema the provider has.
const MAX_TYPE_DEPTH: u32 = 4;

/// A cty type built from the input.
pub fn arbitrary_type(u: &mut Unstructured, depth: u32) -> arbitrary::Result<Type> {
    let kinds = if depth >= MAX_TYPE_DEPTH { 3 } else { 8 };
    Ok(match u.int_in_range(0..=kinds)? {
        0 => Type::Bool,
        1 => Type::Number,
        2 => Type::String,
        3 => Type::Dynamic,
        4 => Type::list(arbitrary_type(u, depth + 1)?),
        5 => Type::set(arbitrary_type(u, depth + 1)?),
        6 => Type::map(arbitrary_type(u, depth + 1)?),
        7 => {
            let count = u.int_in_range(0..=4)?;
            let mut attributes = std::collections::BTreeMap::new();
            for i in 0..count {
                // Short names, so that inputs can spell them in msgpack and JSON.
                attributes.insert(format!("{}", (b'a' + i) as char), arbitrary_type(u, depth + 1)?);
            }
            Type::Object(attributes)
        }
        _ => {
            let count = u.int_in_range(0..=3)?;
            Type::Tuple((0..count).map(|_| arbitrary_type(u, depth + 1)).collect::<Result<_, _>>()?)
        }
    })
}

/// The provider's own value types: its configuration, every resource and data source.
pub fn schema_types() -> &'static [(String, Type)] {
    static TYPES: OnceLock<Vec<(String, Type)>> = OnceLock::new();
    TYPES.get_or_init(|| {
        let provider = GitOpsBridge::new();
        let mut types = vec![(String::new(), provider.schema().block.value_type())];
        types.extend(provider.resources().iter().map(|r| (r.type_name().to_string(), r.schema().block.value_type())));
        types
            .extend(provider.data_sources().iter().map(|d| (d.type_name().to_string(), d.schema().block.value_type())));
        types
    })
}

/// One of the provider's types (about a quarter of the time) or a derived one.
pub fn any_type(u: &mut Unstructured) -> arbitrary::Result<Type> {
    let choice: u8 = u.arbitrary()?;
    let schemas = schema_types();
    if usize::from(choice) < schemas.len() * 16 {
        return Ok(schemas[usize::from(choice) / 16].1.clone());
    }
    arbitrary_type(u, 0)
}

/// The plugin server as Terraform talks to it, without the transport.
pub fn service() -> &'static Arc<ProviderService> {
    static SERVICE: OnceLock<Arc<ProviderService>> = OnceLock::new();
    SERVICE.get_or_init(|| Arc::new(ProviderService::new(Arc::new(GitOpsBridge::new()))))
}

/// A runtime to run the server's async calls on.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime"))
}

/// The server turns panics into diagnostics; for the fuzzer they are crashes.
pub fn assert_no_panic(diagnostics: &[pb::Diagnostic]) {
    if let Some(d) = diagnostics.iter().find(|d| d.summary == PANIC_SUMMARY) {
        panic!("the provider panicked: {}", d.detail);
    }
}

/// Equal values, numbers compared by what they are worth rather than how they are written
/// (`1e+64` and `1e64` are one number; the codecs may pick either form).
pub fn same_value(
    a: &terraform_provider_gitopsbridge::protocol::Value,
    b: &terraform_provider_gitopsbridge::protocol::Value,
) -> bool {
    use terraform_provider_gitopsbridge::protocol::{Number, Value};
    let worth = |n: &Number| match n {
        Number::Int(i) => *i as f64,
        Number::Float(f) => *f,
        Number::Decimal(text) => text.parse().unwrap_or(f64::NAN),
    };
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (worth(x), worth(y));
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
        }
        (Value::List(x), Value::List(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_value(x, y)),
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|((kx, x), (ky, y))| kx == ky && same_value(x, y))
        }
        (Value::Dynamic(tx, x), Value::Dynamic(ty, y)) => tx == ty && same_value(x, y),
        (x, y) => x == y,
    }
}
