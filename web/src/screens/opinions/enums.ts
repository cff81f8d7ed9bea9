// Labels (ja, en) of the 主治医意見書 code lists, indexed by the enum's number. Index 0 is the
// "not set" choice (記載なし) where the contract allows it.
import type { Lang } from "../../app/i18n";

export type Labels = readonly (readonly [string, string])[];

export function label(list: Labels, v: number, lang: Lang): string {
  const e = list[v];
  return e ? e[lang === "ja" ? 0 : 1] : String(v);
}

const NONE: readonly [string, string] = ["記載なし", "Not stated"];

export const FORM_EDITION: Labels = [
  ["記入日で決まる様式", "Edition in force on the written date"],
  ["令和3年様式（同意欄・添付資料あり）", "2021 form (consent box, attachments)"],
  ["令和8年様式", "2026 form"],
];
export const OPINION_COUNT: Labels = [
  ["—", "—"],
  ["初回", "First"],
  ["2回目以上", "Second or later"],
];
export const DEPARTMENT: Labels = [
  ["—", "—"],
  ["内科", "Internal medicine"],
  ["精神科", "Psychiatry"],
  ["外科", "Surgery"],
  ["整形外科", "Orthopaedics"],
  ["脳神経外科", "Neurosurgery"],
  ["皮膚科", "Dermatology"],
  ["泌尿器科", "Urology"],
  ["婦人科", "Gynaecology"],
  ["眼科", "Ophthalmology"],
  ["耳鼻咽喉科", "Otorhinolaryngology"],
  ["リハビリテーション科", "Rehabilitation"],
  ["歯科", "Dentistry"],
  ["その他", "Other"],
];
export const SPECIFIED_DISEASE: Labels = [
  ["該当なし", "None"],
  ["1 がん（末期）", "1 Terminal cancer"],
  ["2 関節リウマチ", "2 Rheumatoid arthritis"],
  ["3 筋萎縮性側索硬化症", "3 ALS"],
  ["4 後縦靱帯骨化症", "4 OPLL"],
  ["5 骨折を伴う骨粗鬆症", "5 Osteoporosis with fracture"],
  ["6 初老期における認知症", "6 Early-onset dementia"],
  ["7 パーキンソン病関連疾患", "7 Parkinson's and related"],
  ["8 脊髄小脳変性症", "8 Spinocerebellar degeneration"],
  ["9 脊柱管狭窄症", "9 Spinal canal stenosis"],
  ["10 早老症", "10 Progeria"],
  ["11 多系統萎縮症", "11 Multiple system atrophy"],
  ["12 糖尿病性神経障害・腎症・網膜症", "12 Diabetic complications"],
  ["13 脳血管疾患", "13 Cerebrovascular disease"],
  ["14 閉塞性動脈硬化症", "14 Arteriosclerosis obliterans"],
  ["15 慢性閉塞性肺疾患", "15 COPD"],
  ["16 両側の膝関節又は股関節に著しい変形を伴う変形性関節症", "16 Severe bilateral knee/hip osteoarthritis"],
];
export const STABILITY: Labels = [
  ["—", "—"],
  ["安定", "Stable"],
  ["不安定", "Unstable"],
  ["不明", "Unknown"],
];
export const SPECIAL_CARE: Labels = [
  ["—", "—"],
  ["点滴の管理", "IV management"],
  ["中心静脈栄養", "Total parenteral nutrition"],
  ["透析", "Dialysis"],
  ["ストーマの処置", "Stoma care"],
  ["酸素療法", "Oxygen therapy"],
  ["レスピレーター", "Respirator"],
  ["気管切開の処置", "Tracheostomy care"],
  ["疼痛の看護", "Pain nursing"],
  ["経管栄養", "Tube feeding"],
  ["モニター測定", "Monitoring"],
  ["褥瘡の処置", "Pressure-ulcer care"],
  ["カテーテル", "Catheter"],
];
export const DISABILITY: Labels = [
  ["—", "—"],
  ["自立", "Independent"],
  ["J1", "J1"],
  ["J2", "J2"],
  ["A1", "A1"],
  ["A2", "A2"],
  ["B1", "B1"],
  ["B2", "B2"],
  ["C1", "C1"],
  ["C2", "C2"],
];
export const DEMENTIA: Labels = [
  ["—", "—"],
  ["自立", "Independent"],
  ["Ⅰ", "I"],
  ["Ⅱa", "IIa"],
  ["Ⅱb", "IIb"],
  ["Ⅲa", "IIIa"],
  ["Ⅲb", "IIIb"],
  ["Ⅳ", "IV"],
  ["M", "M"],
];
export const MEMORY: Labels = [NONE, ["問題なし", "No problem"], ["問題あり", "Problem"]];
export const DECISION: Labels = [
  NONE,
  ["自立", "Independent"],
  ["いくらか困難", "Somewhat difficult"],
  ["見守りが必要", "Needs supervision"],
  ["判断できない", "Unable"],
];
export const COMMUNICATION: Labels = [
  NONE,
  ["伝えられる", "Able"],
  ["いくらか困難", "Somewhat difficult"],
  ["具体的要求に限られる", "Concrete requests only"],
  ["伝えられない", "Unable"],
];
export const BPSD: Labels = [
  ["—", "—"],
  ["幻視・幻聴", "Hallucination"],
  ["妄想", "Delusion"],
  ["昼夜逆転", "Day–night reversal"],
  ["暴言", "Verbal abuse"],
  ["暴行", "Violence"],
  ["介護への抵抗", "Resistance to care"],
  ["徘徊", "Wandering"],
  ["火の不始末", "Fire hazard"],
  ["不潔行為", "Unhygienic behaviour"],
  ["異食行動", "Pica"],
  ["性的問題行動", "Sexual behaviour"],
  ["その他", "Other"],
];
export const HAND: Labels = [NONE, ["右", "Right"], ["左", "Left"]];
export const WEIGHT_CHANGE: Labels = [NONE, ["増加", "Increased"], ["維持", "Maintained"], ["減少", "Decreased"]];
export const SEVERITY: Labels = [NONE, ["軽", "Mild"], ["中", "Moderate"], ["重", "Severe"]];
export const PARALYSIS_SITE: Labels = [
  ["—", "—"],
  ["右上肢", "Right upper limb"],
  ["左上肢", "Left upper limb"],
  ["右下肢", "Right lower limb"],
  ["左下肢", "Left lower limb"],
  ["その他", "Other"],
];
export const ATAXIA: Labels = [
  ["—", "—"],
  ["上肢 右", "Upper limb right"],
  ["上肢 左", "Upper limb left"],
  ["下肢 右", "Lower limb right"],
  ["下肢 左", "Lower limb left"],
  ["体幹 右", "Trunk right"],
  ["体幹 左", "Trunk left"],
];
export const OUTDOOR: Labels = [
  NONE,
  ["自立", "Independent"],
  ["介助があればしている", "With assistance"],
  ["していない", "Not done"],
];
export const WHEELCHAIR: Labels = [
  NONE,
  ["用いていない", "Not used"],
  ["主に自分で操作している", "Mostly self-operated"],
  ["主に他人が操作している", "Mostly operated by others"],
];
export const WALKING_AID: Labels = [
  ["—", "—"],
  ["用いていない", "Not used"],
  ["屋外で使用", "Outdoors"],
  ["屋内で使用", "Indoors"],
];
export const EATING: Labels = [
  NONE,
  ["自立ないし何とか自分で食べられる", "Independent"],
  ["全面介助", "Full assistance"],
];
export const NUTRITION: Labels = [NONE, ["良好", "Good"], ["不良", "Poor"]];
export const LIKELY: Labels = [
  ["—", "—"],
  ["尿失禁", "Urinary incontinence"],
  ["転倒・骨折", "Fall / fracture"],
  ["移動能力の低下", "Reduced mobility"],
  ["褥瘡", "Pressure ulcer"],
  ["心肺機能の低下", "Cardiopulmonary decline"],
  ["閉じこもり", "Withdrawal"],
  ["意欲低下", "Loss of motivation"],
  ["徘徊", "Wandering"],
  ["低栄養", "Malnutrition"],
  ["摂食・嚥下機能低下", "Dysphagia"],
  ["脱水", "Dehydration"],
  ["易感染性", "Infection susceptibility"],
  ["がん等による疼痛", "Cancer pain"],
  ["その他", "Other"],
];
export const OUTLOOK: Labels = [
  NONE,
  ["期待できる", "Expected"],
  ["期待できない", "Not expected"],
  ["不明", "Unknown"],
];
export const MEDICAL_SERVICE: Labels = [
  ["—", "—"],
  ["訪問診療", "Home medical visit"],
  ["訪問看護", "Home nursing"],
  ["訪問歯科診療", "Home dental visit"],
  ["訪問薬剤管理指導", "Home pharmacy guidance"],
  ["訪問リハビリテーション", "Home rehabilitation"],
  ["短期入所療養介護", "Short-stay medical care"],
  ["訪問歯科衛生指導", "Home dental hygiene guidance"],
  ["訪問栄養食事指導", "Home nutrition guidance"],
  ["通所リハビリテーション", "Day rehabilitation"],
  ["老人保健施設", "Health facility for the elderly"],
  ["介護医療院", "Care medical clinic"],
  ["その他の医療系サービス", "Other medical service"],
];
export const INFECTION: Labels = [NONE, ["無", "None"], ["有", "Present"], ["不明", "Unknown"]];
export const CONSENT: Labels = [
  ["—（令和8年様式では空欄）", "— (empty on the 2026 form)"],
  ["同意する", "Agree"],
  ["同意しない", "Disagree"],
];
export const REQUEST_KIND: Labels = [
  ["—", "—"],
  ["初回依頼", "First request"],
  ["再依頼", "Repeat request"],
  ["再意見書", "Further opinion"],
];
export const REQUEST_STATUS: Labels = [
  ["—", "—"],
  ["依頼中", "Requested"],
  ["提出済", "Submitted"],
  ["受領済", "Received"],
  ["取消", "Cancelled"],
];
export const OPINION_STATUS: Labels = [
  ["—", "—"],
  ["提出済", "Submitted"],
  ["受領済", "Received"],
  ["訂正済（旧版）", "Superseded"],
];
