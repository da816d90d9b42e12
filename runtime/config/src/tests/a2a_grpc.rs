//! Tests for `a2a.grpc_port`: off when absent, a port (0 = a free one) when set, a bad value
//! warns and leaves gRPC off.

use super::{parse, warning};

#[test]
fn grpc_is_off_unless_a_port_is_set() {
    assert_eq!(parse("").a2a.grpc_port, None);
    let c = parse("a2a:\n  grpc_port: 50051\n");
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(c.a2a.grpc_port, Some(50051));
    assert_eq!(parse("a2a: {grpc_port: 0}\n").a2a.grpc_port, Some(0));
    assert_eq!(
        parse("a2a: {grpc_port: \"8081\"}\n").a2a.grpc_port,
        Some(8081)
    );
}

#[test]
fn a_bad_grpc_port_warns_and_leaves_grpc_off() {
    for bad in ["70000", "-1", "soon", "[1]"] {
        let c = parse(&format!("a2a: {{grpc_port: {bad}}}\n"));
        assert_eq!(c.a2a.grpc_port, None, "{bad}");
        assert!(
            warning(&c, "a2a.grpc_port")
                .message
                .contains("gRPC is not served"),
            "{bad}: {:?}",
            c.warnings
        );
    }
}
