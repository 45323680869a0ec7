use super::{Btf, BtfError, Kind, fixture::BtfBuilder};

#[test]
fn finds_members_inside_anonymous_unions_with_their_full_offset() {
    let mut b = BtfBuilder::new();
    let int = b.int("int", 4);
    let dev = b.fwd("net_device");
    let dev_ptr = b.ptr(dev);
    let inner = b.union("", 8, &[("dev", dev_ptr, 0), ("dev_scratch", int, 0)]);
    let anon = b.structure("", 24, &[("next", dev_ptr, 0), ("", inner, 16)]);
    let outer = b.union("", 24, &[("", anon, 0)]);
    let skb = b.structure("sk_buff", 64, &[("", outer, 0), ("len", int, 40)]);
    let btf = Btf::parse(&b.build()).unwrap();

    assert_eq!(btf.find("sk_buff", Kind::Struct), Some(skb));
    let member = btf.member(skb, "dev").unwrap();
    assert_eq!(member.bit_offset, 16 * 8);
    assert_eq!(btf.pointee(member.type_id), Some(dev));
    assert_eq!(btf.member(skb, "len").unwrap().bit_offset, 40 * 8);
    assert_eq!(btf.member(skb, "missing"), None);
}

#[test]
fn reads_enum_values_and_prototypes_through_typedefs() {
    let mut b = BtfBuilder::new();
    let reasons = b.enumeration("skb_drop_reason", &[("A", 7), ("NEG", -3)]);
    let void_ptr = b.ptr(0);
    let proto = b.func_proto(&[void_ptr, reasons]);
    let proto_ptr = b.ptr(proto);
    let typedef = b.typedef("btf_trace_x", proto_ptr);
    let btf = Btf::parse(&b.build()).unwrap();

    assert_eq!(btf.enum_value(reasons, "A"), Some(7));
    assert_eq!(btf.enum_value(reasons, "NEG"), Some(-3));
    assert_eq!(btf.enum_value(reasons, "B"), None);
    let id = btf.find("btf_trace_x", Kind::Typedef).unwrap();
    assert_eq!(id, typedef);
    assert_eq!(btf.skip_modifiers(id), proto_ptr);
    let params = btf
        .params(btf.pointee(btf.skip_modifiers(id)).unwrap())
        .unwrap();
    assert_eq!(params, vec![void_ptr, reasons]);
}

#[test]
fn rejects_truncated_and_foreign_input_instead_of_misreading_it() {
    let mut b = BtfBuilder::new();
    b.enumeration("skb_drop_reason", &[("A", 1), ("B", 2)]);
    let bytes = b.build();
    assert!(matches!(
        Btf::parse(&bytes[..10]),
        Err(BtfError::Malformed(_))
    ));
    let mut swapped = bytes.clone();
    swapped.swap(0, 1);
    assert!(matches!(Btf::parse(&swapped), Err(BtfError::Malformed(_))));
    // Cutting the string section short puts it out of bounds.
    assert!(matches!(
        Btf::parse(&bytes[..bytes.len() - 1]),
        Err(BtfError::Malformed(_))
    ));
}

#[test]
fn the_host_kernel_btf_parses_when_present() {
    // Not privileged: /sys/kernel/btf/vmlinux is world-readable where it exists.
    if !std::path::Path::new(super::VMLINUX_BTF).exists() {
        return;
    }
    let btf = Btf::from_sys_fs().unwrap();
    let skb = btf
        .find("sk_buff", Kind::Struct)
        .expect("every BTF kernel has sk_buff");
    assert!(btf.member(skb, "len").is_some());
}
