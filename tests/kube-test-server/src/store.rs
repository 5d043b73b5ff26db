//! The object store: objects by (resource, namespace, name), the global
//! resourceVersion counter, and the clock and id source writes use.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::resources::Resource;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    pub resource: Resource,
    /// Empty for cluster-scoped resources.
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    pub fn new(resource: Resource, namespace: &str, name: &str) -> ObjectKey {
        let namespace = if resource.namespaced() { namespace } else { "" };
        ObjectKey { resource, namespace: namespace.to_string(), name: name.to_string() }
    }
}

pub struct Store {
    objects: BTreeMap<ObjectKey, Value>,
    resource_version: u64,
    ids: IdSource,
}

impl Store {
    pub fn new() -> Store {
        Store { objects: BTreeMap::new(), resource_version: 1000, ids: IdSource::seeded() }
    }

    pub fn get(&self, key: &ObjectKey) -> Option<&Value> {
        self.objects.get(key)
    }

    pub fn insert(&mut self, key: ObjectKey, object: Value) {
        self.objects.insert(key, object);
    }

    pub fn remove(&mut self, key: &ObjectKey) -> Option<Value> {
        self.objects.remove(key)
    }

    /// Objects of one resource, in one namespace or all, ordered by key.
    pub fn list(&self, resource: Resource, namespace: Option<&str>) -> impl Iterator<Item = (&ObjectKey, &Value)> {
        self.objects.iter().filter(move |(k, _)| k.resource == resource && namespace.is_none_or(|ns| k.namespace == ns))
    }

    pub fn namespace_exists(&self, namespace: &str) -> bool {
        self.objects.contains_key(&ObjectKey::new(Resource::Namespace, "", namespace))
    }

    /// The newest resourceVersion handed out (what lists report).
    pub fn current_version(&self) -> String {
        self.resource_version.to_string()
    }

    pub fn next_version(&mut self) -> String {
        self.resource_version += 1;
        self.resource_version.to_string()
    }

    pub fn new_uid(&mut self) -> String {
        self.ids.uuid()
    }

    /// The random suffix `generateName` gets (the real alphabet avoids vowels).
    pub fn name_suffix(&mut self) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        (0..5).map(|_| ALPHABET[(self.ids.next() % ALPHABET.len() as u64) as usize] as char).collect()
    }
}

/// RFC 3339 with second precision, as `metav1.Time` serializes.
pub fn now() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// splitmix64: enough randomness for uids in a test server, no extra crate.
struct IdSource(u64);

impl IdSource {
    fn seeded() -> IdSource {
        let nanos = jiff::Timestamp::now().as_nanosecond() as u64;
        IdSource(nanos ^ (std::process::id() as u64).rotate_left(32))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A version-4 style UUID string.
    fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        let hex = format!("{a:016x}{b:016x}");
        format!(
            "{}-{}-4{}-{}{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[13..16],
            ['8', '9', 'a', 'b'][(b >> 62) as usize],
            &hex[17..20],
            &hex[20..32]
        )
    }
}
