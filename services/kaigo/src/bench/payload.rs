//! From a ghz `call` and `data` to the gRPC path and the encoded request messages, using the
//! compiled descriptor sets (kaigo's and grpc.health.v1) rather than generated types, so
//! every unary RPC of every service can be driven by a config file alone.

use bytes::Bytes;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor};
use serde_json::{Map, Value};

/// kaigo's services plus the standard health service (the driver's overhead baseline).
pub fn descriptor_pool() -> Result<DescriptorPool, String> {
    let mut pool = DescriptorPool::decode(kaigo_proto::FILE_DESCRIPTOR_SET)
        .map_err(|e| format!("the compiled descriptor set does not decode: {e}"))?;
    pool.decode_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .map_err(|e| format!("the health descriptor set does not decode: {e}"))?;
    Ok(pool)
}

/// Finds a unary method by ghz's `call` syntax: `pkg.Service.Method` or `pkg.Service/Method`.
pub fn find_method(pool: &DescriptorPool, call: &str) -> Result<MethodDescriptor, String> {
    let (service, method) = call
        .split_once('/')
        .or_else(|| call.rsplit_once('.'))
        .ok_or_else(|| format!("`call` {call:?} is not pkg.Service.Method"))?;
    let descriptor = pool
        .get_service_by_name(service)
        .ok_or_else(|| format!("no service {service} in the descriptor set"))?
        .methods()
        .find(|m| m.name() == method)
        .ok_or_else(|| format!("service {service} has no method {method}"))?;
    if descriptor.is_client_streaming() || descriptor.is_server_streaming() {
        return Err(format!("{call} is a streaming RPC; kaigo bench drives unary calls only"));
    }
    Ok(descriptor)
}

/// The HTTP/2 path of a method: `/pkg.Service/Method`.
pub fn path(method: &MethodDescriptor) -> String {
    format!("/{}/{}", method.parent_service().full_name(), method.name())
}

/// Encodes each `data` entry as the method's request message (protobuf JSON mapping: proto or
/// JSON field names, enum names, dates as objects). An unknown field is an error, naming the
/// entry, so a typo in a config fails before the run instead of sending empty requests.
pub fn encode_all(method: &MethodDescriptor, data: &[Map<String, Value>]) -> Result<Vec<Bytes>, String> {
    data.iter()
        .enumerate()
        .map(|(index, entry)| {
            DynamicMessage::deserialize(method.input(), Value::Object(entry.clone()))
                .map(|message| Bytes::from(message.encode_to_vec()))
                .map_err(|e| format!("`data` entry {index} is not a {}: {e}", method.input().full_name()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn encodes_a_check_eligibility_request_without_generated_types() {
        let pool = descriptor_pool().unwrap();
        let method = find_method(&pool, "kaigo.eligibility.v1.EligibilityService.CheckEligibility").unwrap();
        assert_eq!(path(&method), "/kaigo.eligibility.v1.EligibilityService/CheckEligibility");
        let entry = json!({"insurer_number": "435073", "insuredNumber": "0000000001",
                           "as_of": {"year": 2026, "month": 4, "day": 1}});
        let bytes = encode_all(&method, &[entry.as_object().unwrap().clone()]).unwrap();
        let decoded = kaigo_proto::kaigo::eligibility::v1::CheckEligibilityRequest::decode(bytes[0].clone()).unwrap();
        assert_eq!(decoded.insurer_number, "435073");
        assert_eq!(decoded.insured_number, "0000000001");
        assert_eq!(decoded.as_of.unwrap().month, 4);
    }

    #[test]
    fn finds_health_and_slash_syntax_and_refuses_streams_and_typos() {
        let pool = descriptor_pool().unwrap();
        assert!(find_method(&pool, "grpc.health.v1.Health/Check").is_ok());
        assert!(find_method(&pool, "grpc.health.v1.Health.Watch").unwrap_err().contains("streaming"));
        assert!(find_method(&pool, "kaigo.eligibility.v1.EligibilityService.Nope").is_err());
        let method = find_method(&pool, "grpc.health.v1.Health.Check").unwrap();
        let err = encode_all(&method, &[json!({"servce": "x"}).as_object().unwrap().clone()]).unwrap_err();
        assert!(err.contains("entry 0"), "{err}");
    }
}
