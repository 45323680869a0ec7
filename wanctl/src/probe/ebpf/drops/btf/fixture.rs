//! Builds small BTF blobs for tests: a fake kernel with exactly the types a test needs.

use super::{HEADER_LEN, Kind, MAGIC};

/// Accumulates type records and strings; ids are handed out in order from 1.
pub(crate) struct BtfBuilder {
    types: Vec<u8>,
    strings: Vec<u8>,
    next_id: u32,
}

impl BtfBuilder {
    pub(crate) fn new() -> Self {
        Self {
            types: Vec::new(),
            strings: vec![0],
            next_id: 1,
        }
    }

    fn string(&mut self, s: &str) -> u32 {
        if s.is_empty() {
            return 0;
        }
        let offset = u32::try_from(self.strings.len()).unwrap();
        self.strings.extend_from_slice(s.as_bytes());
        self.strings.push(0);
        offset
    }

    fn record(
        &mut self,
        name: &str,
        kind: Kind,
        vlen: usize,
        size_or_type: u32,
        trailer: &[u32],
    ) -> u32 {
        let name_off = self.string(name);
        let info = ((kind as u32) << 24) | u32::try_from(vlen).unwrap();
        for word in [name_off, info, size_or_type].iter().chain(trailer) {
            self.types.extend_from_slice(&word.to_ne_bytes());
        }
        self.next_id += 1;
        self.next_id - 1
    }

    pub(crate) fn int(&mut self, name: &str, bytes: u32) -> u32 {
        self.record(name, Kind::Int, 0, bytes, &[bytes * 8])
    }

    pub(crate) fn ptr(&mut self, to: u32) -> u32 {
        self.record("", Kind::Ptr, 0, to, &[])
    }

    pub(crate) fn typedef(&mut self, name: &str, to: u32) -> u32 {
        self.record(name, Kind::Typedef, 0, to, &[])
    }

    /// A forward-declared struct, to be referenced before it is defined.
    pub(crate) fn fwd(&mut self, name: &str) -> u32 {
        self.record(name, Kind::Fwd, 0, 0, &[])
    }

    /// A struct with `(name, type, byte offset)` members; an empty name makes an anonymous member.
    pub(crate) fn structure(&mut self, name: &str, size: u32, members: &[(&str, u32, u32)]) -> u32 {
        self.aggregate(name, Kind::Struct, size, members)
    }

    pub(crate) fn union(&mut self, name: &str, size: u32, members: &[(&str, u32, u32)]) -> u32 {
        self.aggregate(name, Kind::Union, size, members)
    }

    fn aggregate(
        &mut self,
        name: &str,
        kind: Kind,
        size: u32,
        members: &[(&str, u32, u32)],
    ) -> u32 {
        let mut trailer = Vec::new();
        for &(member, type_id, offset) in members {
            trailer.extend([self.string(member), type_id, offset * 8]);
        }
        self.record(name, kind, members.len(), size, &trailer)
    }

    pub(crate) fn enumeration(&mut self, name: &str, variants: &[(&str, i32)]) -> u32 {
        let mut trailer = Vec::new();
        for &(variant, value) in variants {
            trailer.extend([self.string(variant), value.cast_unsigned()]);
        }
        self.record(name, Kind::Enum, variants.len(), 4, &trailer)
    }

    pub(crate) fn func_proto(&mut self, params: &[u32]) -> u32 {
        let trailer: Vec<u32> = params.iter().flat_map(|&t| [0, t]).collect();
        self.record("", Kind::FuncProto, params.len(), 0, &trailer)
    }

    pub(crate) fn build(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&MAGIC.to_ne_bytes());
        bytes.extend_from_slice(&[1, 0]);
        let header = [
            u32::try_from(HEADER_LEN).unwrap(),
            0,
            u32::try_from(self.types.len()).unwrap(),
            u32::try_from(self.types.len()).unwrap(),
            u32::try_from(self.strings.len()).unwrap(),
        ];
        for word in header {
            bytes.extend_from_slice(&word.to_ne_bytes());
        }
        bytes.extend_from_slice(&self.types);
        bytes.extend_from_slice(&self.strings);
        bytes
    }
}
