//! The 認定調査票's basic survey (基本調査): its 74 items and how many choices each has
//! (docs/domain/certification.md#survey), and the checks a recorded survey passes. Answers are
//! the 1-based number of the choice in the form's printed order (1 = the first, e.g. ない,
//! できる or 介助されていない).

/// (item code, number of choices). 麻痺 (1-1) and 拘縮 (1-2) count one item per site.
pub const ITEMS: [(&str, u8); 74] = [
    // 第1群 身体機能・起居動作 (20)
    ("1-1-1", 2), // 麻痺: 左上肢
    ("1-1-2", 2), // 右上肢
    ("1-1-3", 2), // 左下肢
    ("1-1-4", 2), // 右下肢
    ("1-1-5", 2), // その他
    ("1-2-1", 2), // 拘縮: 肩関節
    ("1-2-2", 2), // 股関節
    ("1-2-3", 2), // 膝関節
    ("1-2-4", 2), // その他
    ("1-3", 3),   // 寝返り
    ("1-4", 3),   // 起き上がり
    ("1-5", 4),   // 座位保持
    ("1-6", 3),   // 両足での立位
    ("1-7", 3),   // 歩行
    ("1-8", 3),   // 立ち上がり
    ("1-9", 3),   // 片足での立位
    ("1-10", 4),  // 洗身
    ("1-11", 3),  // つめ切り
    ("1-12", 5),  // 視力
    ("1-13", 5),  // 聴力
    // 第2群 生活機能 (12)
    ("2-1", 4),  // 移乗
    ("2-2", 4),  // 移動
    ("2-3", 3),  // えん下
    ("2-4", 4),  // 食事摂取
    ("2-5", 4),  // 排尿
    ("2-6", 4),  // 排便
    ("2-7", 3),  // 口腔清潔
    ("2-8", 3),  // 洗顔
    ("2-9", 3),  // 整髪
    ("2-10", 4), // 上衣の着脱
    ("2-11", 4), // ズボン等の着脱
    ("2-12", 3), // 外出頻度
    // 第3群 認知機能 (9)
    ("3-1", 4), // 意思の伝達
    ("3-2", 2), // 毎日の日課を理解
    ("3-3", 2), // 生年月日をいう
    ("3-4", 2), // 短期記憶
    ("3-5", 2), // 自分の名前をいう
    ("3-6", 2), // 今の季節を理解
    ("3-7", 2), // 場所の理解
    ("3-8", 3), // 徘徊
    ("3-9", 3), // 外出すると戻れない
    // 第4群 精神・行動障害 (15): ない / ときどきある / ある
    ("4-1", 3),
    ("4-2", 3),
    ("4-3", 3),
    ("4-4", 3),
    ("4-5", 3),
    ("4-6", 3),
    ("4-7", 3),
    ("4-8", 3),
    ("4-9", 3),
    ("4-10", 3),
    ("4-11", 3),
    ("4-12", 3),
    ("4-13", 3),
    ("4-14", 3),
    ("4-15", 3),
    // 第5群 社会生活への適応 (6)
    ("5-1", 3), // 薬の内服
    ("5-2", 3), // 金銭の管理
    ("5-3", 4), // 日常の意思決定
    ("5-4", 3), // 集団への不適応
    ("5-5", 4), // 買い物
    ("5-6", 4), // 簡単な調理
    // 特別な医療 (12): ない / ある
    ("6-1", 2),
    ("6-2", 2),
    ("6-3", 2),
    ("6-4", 2),
    ("6-5", 2),
    ("6-6", 2),
    ("6-7", 2),
    ("6-8", 2),
    ("6-9", 2),
    ("6-10", 2),
    ("6-11", 2),
    ("6-12", 2),
];

/// Most 特記事項 entries one survey takes.
pub const MAX_NOTES: usize = 100;
/// Longest 特記事項 text, in characters.
pub const MAX_NOTE_CHARS: usize = 2000;

/// The number of choices of item `code`, if it is one of the 74.
pub fn choices(code: &str) -> Option<u8> {
    ITEMS.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
}

/// Whether a 特記事項 may name `code`: one of the 74 items, the parent of 麻痺 or 拘縮 ("1-1",
/// "1-2"), or empty for the survey as a whole (概況).
pub fn note_item_known(code: &str) -> bool {
    code.is_empty() || code == "1-1" || code == "1-2" || choices(code).is_some()
}

/// The problems of a set of basic-item answers, as (index of the answer or None for the set,
/// message): an empty set is allowed (not recorded); otherwise each of the 74 exactly once,
/// each answer a choice of its item.
pub fn check_items(items: &[(String, i32)]) -> Vec<(Option<usize>, String)> {
    let mut problems = Vec::new();
    if items.is_empty() {
        return problems;
    }
    let mut seen = std::collections::HashSet::new();
    for (i, (code, answer)) in items.iter().enumerate() {
        match choices(code) {
            None => {
                problems.push((Some(i), format!("unknown item code (\"1-1-1\" … \"6-12\", {} items)", ITEMS.len())))
            }
            Some(n) if *answer < 1 || *answer > i32::from(n) => {
                problems.push((Some(i), format!("answer must be 1 to {n} for item {code}")));
            }
            Some(_) if !seen.insert(code.as_str()) => problems.push((Some(i), format!("item {code} given twice"))),
            Some(_) => {}
        }
    }
    let missing = ITEMS.iter().filter(|(c, _)| !seen.contains(c)).count();
    if missing > 0 && problems.is_empty() {
        let first = ITEMS.iter().find(|(c, _)| !seen.contains(c)).map_or("", |(c, _)| *c);
        problems.push((
            None,
            format!("all {} items are required once any is given; {missing} missing (first {first})", ITEMS.len()),
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(answer: i32) -> Vec<(String, i32)> {
        ITEMS.iter().map(|(c, _)| ((*c).to_owned(), answer)).collect()
    }

    #[test]
    fn the_table_has_74_items_in_the_groups_counted() {
        assert_eq!(ITEMS.len(), 74);
        let group = |g: &str| ITEMS.iter().filter(|(c, _)| c.split('-').next() == Some(g)).count();
        assert_eq!([group("1"), group("2"), group("3"), group("4"), group("5"), group("6")], [20, 12, 9, 15, 6, 12]);
        let unique: std::collections::HashSet<_> = ITEMS.iter().map(|(c, _)| c).collect();
        assert_eq!(unique.len(), 74);
    }

    #[test]
    fn a_full_survey_passes_and_each_problem_is_named() {
        assert!(check_items(&[]).is_empty(), "not recorded");
        assert!(check_items(&all(1)).is_empty());
        let mut bad = all(1);
        bad[11].1 = 5; // 1-5 座位保持 has 4 choices
        bad[0].1 = 0;
        bad[73].0 = "6-13".into();
        let problems = check_items(&bad);
        let at: Vec<Option<usize>> = problems.iter().map(|p| p.0).collect();
        assert_eq!(at, vec![Some(0), Some(11), Some(73)]);
        let mut twice = all(1);
        twice[1].0 = "1-1-1".into();
        assert_eq!(check_items(&twice)[0].0, Some(1));
        let partial: Vec<(String, i32)> = all(2).into_iter().take(70).collect();
        let problems = check_items(&partial);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].1.contains("4 missing"), "{problems:?}");
        assert!(note_item_known("1-1") && note_item_known("") && note_item_known("4-15"));
        assert!(!note_item_known("7-1"));
    }
}
