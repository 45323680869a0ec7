//! A minimal reader of the kernel's BTF (`/sys/kernel/btf/vmlinux`): just enough to look up enum values,
//! struct member offsets and function prototypes by name.
//!
//! aya-obj parses BTF too, but keeps its type table private; the format is small and stable
//! (`include/uapi/linux/btf.h`), so reading the few record kinds we need is simpler than working around it.

use std::{borrow::Cow, path::Path};

/// Where the running kernel exposes its own BTF.
pub const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

const MAGIC: u16 = 0xeb9f;
const HEADER_LEN: usize = 24;
const TYPE_LEN: usize = 12;

/// BTF type kinds (`BTF_KIND_*`) this reader distinguishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    Int = 1,
    Ptr = 2,
    Array = 3,
    Struct = 4,
    Union = 5,
    Enum = 6,
    Fwd = 7,
    Typedef = 8,
    Volatile = 9,
    Const = 10,
    Restrict = 11,
    Func = 12,
    FuncProto = 13,
    Var = 14,
    Datasec = 15,
    Float = 16,
    DeclTag = 17,
    TypeTag = 18,
    Enum64 = 19,
}

impl Kind {
    fn from_raw(raw: u32) -> Option<Self> {
        Some(match raw {
            1 => Self::Int,
            2 => Self::Ptr,
            3 => Self::Array,
            4 => Self::Struct,
            5 => Self::Union,
            6 => Self::Enum,
            7 => Self::Fwd,
            8 => Self::Typedef,
            9 => Self::Volatile,
            10 => Self::Const,
            11 => Self::Restrict,
            12 => Self::Func,
            13 => Self::FuncProto,
            14 => Self::Var,
            15 => Self::Datasec,
            16 => Self::Float,
            17 => Self::DeclTag,
            18 => Self::TypeTag,
            19 => Self::Enum64,
            _ => return None,
        })
    }

    /// Bytes of kind-specific data after the common 12-byte record, for `vlen` entries.
    fn trailer_len(self, vlen: usize) -> usize {
        match self {
            Self::Int | Self::Var | Self::DeclTag => 4,
            Self::Array => 12,
            Self::Struct | Self::Union | Self::Datasec | Self::Enum64 => 12 * vlen,
            Self::Enum | Self::FuncProto => 8 * vlen,
            Self::Ptr
            | Self::Fwd
            | Self::Typedef
            | Self::Volatile
            | Self::Const
            | Self::Restrict
            | Self::Func
            | Self::Float
            | Self::TypeTag => 0,
        }
    }
}

/// Why BTF bytes could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BtfError {
    #[error("reading BTF from {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("BTF: {0}")]
    Malformed(&'static str),
    #[error("BTF type record {id} has unknown kind {kind}")]
    UnknownKind { id: u32, kind: u32 },
}

/// One type record: its name, kind, the size-or-type word and its kind-specific entries.
#[derive(Clone, Copy, Debug)]
struct Record {
    name_off: u32,
    kind: Kind,
    kind_flag: bool,
    size_or_type: u32,
    /// Byte range of the trailer in `Btf::types`.
    trailer: (usize, usize),
}

/// A struct or union member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    /// Offset from the start of the containing type, in bits.
    pub bit_offset: u32,
    /// The member's type id.
    pub type_id: u32,
}

/// A parsed BTF blob.
pub struct Btf {
    /// Index `i` describes type id `i + 1` (id 0 is `void`).
    records: Vec<Record>,
    types: Vec<u8>,
    strings: Vec<u8>,
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let word = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_ne_bytes([word[0], word[1], word[2], word[3]]))
}

impl Btf {
    /// Reads and parses the running kernel's BTF.
    ///
    /// # Errors
    /// [`BtfError::Read`] on kernels without `CONFIG_DEBUG_INFO_BTF`; parse errors otherwise.
    pub fn from_sys_fs() -> Result<Self, BtfError> {
        Self::from_file(Path::new(VMLINUX_BTF))
    }

    /// Reads and parses a BTF file.
    ///
    /// # Errors
    /// [`BtfError::Read`] naming the path, or a parse error.
    pub fn from_file(path: &Path) -> Result<Self, BtfError> {
        let bytes = std::fs::read(path).map_err(|source| BtfError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&bytes)
    }

    /// Parses native-endian BTF bytes (the kernel's own BTF is always native-endian).
    ///
    /// # Errors
    /// [`BtfError::Malformed`] naming what is wrong; [`BtfError::UnknownKind`] for record kinds newer
    /// than this reader (their length is unknown, so nothing after them can be read).
    pub fn parse(bytes: &[u8]) -> Result<Self, BtfError> {
        let header = bytes
            .get(..HEADER_LEN)
            .ok_or(BtfError::Malformed("shorter than its header"))?;
        if u16::from_ne_bytes([header[0], header[1]]) != MAGIC {
            return Err(BtfError::Malformed(
                "bad magic (not BTF, or foreign-endian)",
            ));
        }
        let field = |at| u32_at(header, at).map_or(0, |v| v as usize);
        let (hdr_len, type_off, type_len, str_off, str_len) =
            (field(4), field(8), field(12), field(16), field(20));
        let section = |off: usize, len: usize| {
            let start = hdr_len.checked_add(off)?;
            bytes.get(start..start.checked_add(len)?)
        };
        let types = section(type_off, type_len)
            .ok_or(BtfError::Malformed("type section out of bounds"))?
            .to_vec();
        let strings = section(str_off, str_len)
            .ok_or(BtfError::Malformed("string section out of bounds"))?
            .to_vec();
        let mut records = Vec::new();
        let mut at = 0;
        while at < types.len() {
            let word =
                |i: usize| u32_at(&types, at + 4 * i).ok_or(BtfError::Malformed("truncated type"));
            let (name_off, info, size_or_type) = (word(0)?, word(1)?, word(2)?);
            let raw_kind = (info >> 24) & 0x1f;
            let id = u32::try_from(records.len() + 1).unwrap_or(u32::MAX);
            let kind =
                Kind::from_raw(raw_kind).ok_or(BtfError::UnknownKind { id, kind: raw_kind })?;
            let start = at + TYPE_LEN;
            let end = start + kind.trailer_len((info & 0xffff) as usize);
            if end > types.len() {
                return Err(BtfError::Malformed("type record runs past its section"));
            }
            records.push(Record {
                name_off,
                kind,
                kind_flag: info >> 31 == 1,
                size_or_type,
                trailer: (start, end),
            });
            at = end;
        }
        Ok(Self {
            records,
            types,
            strings,
        })
    }

    fn record(&self, id: u32) -> Option<&Record> {
        self.records.get((id as usize).checked_sub(1)?)
    }

    fn string(&self, offset: u32) -> Cow<'_, str> {
        let tail = self.strings.get(offset as usize..).unwrap_or_default();
        let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
        String::from_utf8_lossy(&tail[..end])
    }

    /// Words of the kind-specific trailer of `record`, grouped by `stride` words.
    fn entries(&self, record: &Record, stride: usize) -> impl Iterator<Item = Vec<u32>> + '_ {
        let (start, end) = record.trailer;
        self.types[start..end]
            .chunks_exact(4 * stride)
            .map(|entry| {
                entry
                    .chunks_exact(4)
                    .map(|w| u32::from_ne_bytes([w[0], w[1], w[2], w[3]]))
                    .collect()
            })
    }

    /// The id of the first type named `name` of kind `kind`.
    pub fn find(&self, name: &str, kind: Kind) -> Option<u32> {
        (1..=self.records.len()).find_map(|i| {
            let record = &self.records[i - 1];
            (record.kind == kind && self.string(record.name_off) == name)
                .then(|| u32::try_from(i).ok())
                .flatten()
        })
    }

    /// The kind of type `id`, or `None` for `void` and unknown ids.
    pub fn kind(&self, id: u32) -> Option<Kind> {
        self.record(id).map(|r| r.kind)
    }

    /// The name of type `id` (empty for anonymous types and `void`).
    pub fn name(&self, id: u32) -> Cow<'_, str> {
        self.record(id)
            .map_or(Cow::Borrowed(""), |r| self.string(r.name_off))
    }

    /// Follows typedefs and qualifiers (`const`, `volatile`, `restrict`, type tags) to the underlying type.
    pub fn skip_modifiers(&self, mut id: u32) -> u32 {
        // Bounded: a well-formed chain is short, a malformed one must not loop forever.
        for _ in 0..32 {
            match self.record(id) {
                Some(r)
                    if matches!(
                        r.kind,
                        Kind::Typedef
                            | Kind::Const
                            | Kind::Volatile
                            | Kind::Restrict
                            | Kind::TypeTag
                    ) =>
                {
                    id = r.size_or_type;
                }
                _ => break,
            }
        }
        id
    }

    /// For a pointer type, the id of the pointee; `None` for anything else.
    pub fn pointee(&self, id: u32) -> Option<u32> {
        self.record(id)
            .filter(|r| r.kind == Kind::Ptr)
            .map(|r| r.size_or_type)
    }

    /// The value of enumerator `variant` in the enum (or 64-bit enum) `enum_id`.
    pub fn enum_value(&self, enum_id: u32, variant: &str) -> Option<i64> {
        let record = self.record(enum_id)?;
        match record.kind {
            Kind::Enum => self
                .entries(record, 2)
                .find(|e| self.string(e[0]) == variant)
                .map(|e| i64::from(e[1].cast_signed())),
            Kind::Enum64 => self
                .entries(record, 3)
                .find(|e| self.string(e[0]) == variant)
                .map(|e| ((u64::from(e[2]) << 32) | u64::from(e[1])).cast_signed()),
            _ => None,
        }
    }

    /// Finds member `name` of struct or union `id`, looking inside anonymous struct and union members as C
    /// does; the offset is from the start of `id`.
    pub fn member(&self, id: u32, name: &str) -> Option<Member> {
        self.member_within(id, name, 0)
    }

    fn member_within(&self, id: u32, name: &str, depth: u32) -> Option<Member> {
        let record = self.record(self.skip_modifiers(id))?;
        if !matches!(record.kind, Kind::Struct | Kind::Union) || depth > 8 {
            return None;
        }
        for entry in self.entries(record, 3) {
            let (name_off, type_id, offset) = (entry[0], entry[1], entry[2]);
            // With kind_flag set the top 8 bits are a bitfield size and the offset is the low 24 bits.
            let bit_offset = if record.kind_flag {
                offset & 0x00ff_ffff
            } else {
                offset
            };
            if name_off == 0 {
                if let Some(inner) = self.member_within(type_id, name, depth + 1) {
                    return Some(Member {
                        bit_offset: bit_offset + inner.bit_offset,
                        type_id: inner.type_id,
                    });
                }
            } else if self.string(name_off) == name {
                return Some(Member {
                    bit_offset,
                    type_id,
                });
            }
        }
        None
    }

    /// Parameter type ids of the function prototype `id`.
    pub fn params(&self, id: u32) -> Option<Vec<u32>> {
        let record = self.record(id).filter(|r| r.kind == Kind::FuncProto)?;
        Some(self.entries(record, 2).map(|e| e[1]).collect())
    }
}

#[cfg(test)]
pub(crate) mod fixture;

#[cfg(test)]
mod tests;
