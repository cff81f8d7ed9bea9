use proptest::prelude::*;

use super::*;

#[test]
fn real_insurer_numbers_parse() {
    // docs/domain/identifiers.md#test-values: 水上村, 市原市, 木更津市, 千葉市中央区, 岐阜市, 千代田区.
    for n in ["435073", "122192", "122069", "121012", "212019", "131011"] {
        assert!(InsurerNumber::parse(n).is_ok(), "{n} should parse");
    }
}

#[test]
fn the_worked_example_check_digit_is_five() {
    // 33120015: payload 3312001 gives check digit 5 (docs/domain/identifiers.md#check-digit).
    assert_eq!(check_digit(b"3312001"), Some(5));
}

#[test]
fn the_misbilled_insurer_number_fails_its_check_digit() {
    // 001220 was billed instead of 木更津市's 122069; payload 00122 expects 2.
    assert_eq!(InsurerNumber::parse("001220"), Err(IdError::CheckDigit));
    assert!(InsurerNumber::parse("001222").is_ok());
}

#[test]
fn insurer_numbers_refuse_wrong_lengths_full_width_digits_and_letters() {
    assert_eq!(InsurerNumber::parse("43507"), Err(IdError::Length { expected: 6, actual: 5 }));
    assert_eq!(InsurerNumber::parse("4350730"), Err(IdError::Length { expected: 6, actual: 7 }));
    // Full-width ４３５０７３: six characters, but not half-width digits; the refusal says what
    // was expected, not a length that matches.
    let err = InsurerNumber::parse("４３５０７３").unwrap_err();
    assert!(matches!(err, IdError::Character { position: 1, .. }), "{err:?}");
    assert!(err.to_string().contains("half-width"), "{err}");
    assert!(!err.to_string().contains("characters, got"), "{err}");
    let err = InsuredNumber::parse("00000001２3").unwrap_err();
    assert!(matches!(err, IdError::Character { position: 9, .. }), "{err:?}");
    assert!(err.to_string().contains("full-width"), "{err}");
    // Other non-ASCII characters keep the field's own rule.
    let err = InsurerNumber::parse("43507é").unwrap_err();
    assert!(matches!(err, IdError::Character { position: 6, .. }), "{err:?}");
    assert!(err.to_string().contains("half-width digits 0-9"), "{err}");
    assert!(matches!(InsurerNumber::parse("43507A"), Err(IdError::Character { position: 6, .. })));
    assert!(matches!(InsurerNumber::parse("435 73"), Err(IdError::Character { position: 4, .. })));
}

#[test]
fn a_disability_number_is_not_taken_for_an_insurer_number_when_it_fails() {
    // 121004 is Chiba city's disability-welfare number; it happens to pass the check digit,
    // which is why the insurer must be looked up, not just validated.
    assert!(InsurerNumber::parse("121004").is_ok());
}

#[test]
fn medical_institution_code_example_parses() {
    assert!(MedicalInstitutionCode::parse("0110113719").is_ok());
    assert_eq!(MedicalInstitutionCode::parse("0110113718"), Err(IdError::CheckDigit));
    assert!(matches!(MedicalInstitutionCode::parse("01101137１9"), Err(IdError::Character { position: 9, .. })));
}

#[test]
fn spec_sample_office_numbers_fail_their_check_digit() {
    // The care-plan spec's dummy numbers fail; their computed check digits are 6 and 7.
    assert_eq!(CareOfficeNumber::parse("0300000100"), Err(IdError::CheckDigit));
    assert_eq!(CareOfficeNumber::parse("0300000005"), Err(IdError::CheckDigit));
    assert!(CareOfficeNumber::parse("0300000106").is_ok());
    assert!(CareOfficeNumber::parse("0300000007").is_ok());
}

#[test]
fn office_numbers_allow_a_letter_only_in_position_three() {
    let payload = b"12A345678";
    let cd = check_digit(payload).unwrap();
    let with_letter = format!("12A345678{cd}");
    assert!(CareOfficeNumber::parse(&with_letter).is_ok());
    assert_eq!(CareOfficeNumber::parse(&with_letter).unwrap().office_class(), 'A');
    assert!(matches!(CareOfficeNumber::parse("1A73456780"), Err(IdError::Character { position: 2, .. })));
    assert!(matches!(CareOfficeNumber::parse("12I3456780"), Err(IdError::Character { position: 3, .. })));
}

#[test]
fn a_lettered_office_number_may_be_taken_with_its_check_digit_unverified() {
    let cd = check_digit(b"12A345678").unwrap();
    let good = format!("12A345678{cd}");
    let bad = format!("12A345678{}", (cd + 1) % 10);
    assert_eq!(
        CareOfficeNumber::parse_letter_unverified(&good).map(|(n, unverified)| (n.to_string(), unverified)),
        Ok((good.clone(), false))
    );
    assert_eq!(
        CareOfficeNumber::parse_letter_unverified(&bad).map(|(n, unverified)| (n.to_string(), unverified)),
        Ok((bad.clone(), true))
    );
    // Only a letter's number: a digits-only number with a wrong check digit is still refused.
    assert_eq!(CareOfficeNumber::parse_letter_unverified("0300000100").map(|_| ()), Err(IdError::CheckDigit));
    assert!(CareOfficeNumber::parse_letter_unverified("12I3456780").is_err());
}

#[test]
fn letter_values_skip_i_o_q_so_z_is_32() {
    assert_eq!(char_value(b'A'), Some(10));
    assert_eq!(char_value(b'H'), Some(17));
    assert_eq!(char_value(b'J'), Some(18));
    assert_eq!(char_value(b'Z'), Some(32));
    assert_eq!(char_value(b'O'), None);
}

#[test]
fn insured_numbers_check_format_only() {
    assert!(InsuredNumber::parse("0000012345").is_ok());
    assert!(InsuredNumber::parse("H123456789").is_ok());
    assert!(InsuredNumber::parse_strict("H123456789").is_err());
    assert!(matches!(InsuredNumber::parse("h123456789"), Err(IdError::Character { position: 1, .. })));
    assert!(matches!(InsuredNumber::parse("000001234"), Err(IdError::Length { .. })));
    // The value never shows in Debug output.
    let n = InsuredNumber::parse("0000012345").unwrap();
    assert!(!format!("{n:?}").contains("12345"));
}

#[test]
fn error_messages_name_the_rule_not_the_value() {
    let err = InsuredNumber::parse("00000 2345").unwrap_err().to_string();
    assert!(err.contains("upper-case letters"), "{err}");
    assert!(!err.contains("2345"));
}

proptest! {
    #[test]
    fn every_insurer_payload_with_its_check_digit_parses(payload in "[0-9]{5}") {
        let cd = check_digit(payload.as_bytes()).unwrap();
        let valid = format!("{payload}{cd}");
        prop_assert!(InsurerNumber::parse(&valid).is_ok());
        for other in (0..10u8).filter(|&d| d != cd) {
            let wrong = format!("{payload}{other}");
            prop_assert_eq!(InsurerNumber::parse(&wrong), Err(IdError::CheckDigit));
        }
    }

    #[test]
    fn every_institution_payload_with_its_check_digit_parses(payload in "[0-9]{9}") {
        let cd = check_digit(payload.as_bytes()).unwrap();
        let valid = format!("{payload}{cd}");
        prop_assert!(MedicalInstitutionCode::parse(&valid).is_ok());
        for other in (0..10u8).filter(|&d| d != cd) {
            let wrong = format!("{payload}{other}");
            prop_assert_eq!(MedicalInstitutionCode::parse(&wrong), Err(IdError::CheckDigit));
        }
    }

    #[test]
    fn every_office_payload_with_its_check_digit_parses(payload in "[0-9]{2}[0-9A-HJ-NPR-Z][0-9]{6}") {
        let cd = check_digit(payload.as_bytes()).unwrap();
        let valid = format!("{payload}{cd}");
        prop_assert!(CareOfficeNumber::parse(&valid).is_ok());
        for other in (0..10u8).filter(|&d| d != cd) {
            let wrong = format!("{payload}{other}");
            prop_assert_eq!(CareOfficeNumber::parse(&wrong), Err(IdError::CheckDigit));
        }
    }

    #[test]
    fn arbitrary_strings_never_panic(s in "\\PC{0,12}") {
        let _ = InsurerNumber::parse(&s);
        let _ = InsuredNumber::parse(&s);
        let _ = CareOfficeNumber::parse(&s);
        let _ = MedicalInstitutionCode::parse(&s);
    }
}
