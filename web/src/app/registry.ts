// Words for the registry's enums and codes (docs/domain/access.md), shared by the person's
// page, the 作成依頼届出 screen and the office's 利用者登録.
import { Role, Purpose } from "../gen/kaigo/common/v1/access_pb";
import {
  Category,
  ConsentSource,
  EndReason,
  Evidence,
  NotificationStatus,
  OrganizationKind,
  type Consent,
  type Organization,
  type PersonRef,
} from "../gen/kaigo/registry/v1/registry_pb";
import type { Lang } from "./i18n";

type Pair = readonly [string, string];
const pick = (p: Pair | undefined, lang: Lang) => (p ? p[lang === "ja" ? 0 : 1] : "—");

const CATEGORY: Partial<Record<Category, Pair>> = {
  [Category.INSURANCE_CERTIFICATES]: ["被保険者証等", "Insurance certificates"],
  [Category.COST_SHARE]: ["負担割合・負担限度額", "Co-payment ratio and cost limits"],
  [Category.CERTIFICATION]: ["認定情報（調査票・主治医意見書を含む）", "Certification (incl. survey and opinion)"],
  [Category.CARE_PLAN]: ["ケアプラン", "Care plans"],
};
export const CATEGORIES = [
  Category.INSURANCE_CERTIFICATES,
  Category.COST_SHARE,
  Category.CERTIFICATION,
  Category.CARE_PLAN,
] as const;
export const categoryLabel = (c: Category, lang: Lang) => pick(CATEGORY[c], lang);

const KIND: Partial<Record<OrganizationKind, Pair>> = {
  [OrganizationKind.CARE_OFFICE]: ["居宅介護支援事業所", "Care management office"],
  [OrganizationKind.SERVICE_PROVIDER]: ["介護サービス事業所", "Care service provider"],
  [OrganizationKind.MEDICAL_INSTITUTION]: ["医療機関", "Medical institution"],
};
export const kindLabel = (k: OrganizationKind, lang: Lang) => pick(KIND[k], lang);

const EVIDENCE: Partial<Record<Evidence, Pair>> = {
  [Evidence.CARD_CONFIRMATION]: ["マイナンバーカードによる本人確認", "Identity confirmed with the card"],
  [Evidence.INSURER_ACCEPTED_NOTIFICATION]: ["作成依頼届出の受理", "Care-plan notification accepted"],
  [Evidence.INSURER_MANUAL]: ["保険者による登録", "Entered by the insurer"],
  [Evidence.MIGRATED_FROM_ELIGIBILITY]: ["従来の記録からの移行", "Migrated from earlier records"],
};
export const evidenceLabel = (e: Evidence, lang: Lang) => pick(EVIDENCE[e], lang);

const END: Partial<Record<EndReason, Pair>> = {
  [EndReason.BY_ORGANIZATION]: ["事業所が終了", "Ended by the organisation"],
  [EndReason.BY_PERSON]: ["本人が終了", "Ended by the person"],
  [EndReason.BY_INSURER]: ["保険者が終了", "Ended by the insurer"],
  [EndReason.NO_SERVICE]: ["サービス実績がないため自動終了", "Ended: no service for a long time"],
};
export const endReasonLabel = (e: EndReason, lang: Lang) => pick(END[e], lang);

const SOURCE: Partial<Record<ConsentSource, Pair>> = {
  [ConsentSource.CARD_READER]: ["事業所のカードリーダー", "At the organisation's card reader"],
  [ConsentSource.MUNICIPALITY_AT_APPLICATION]: ["市町村での申請時", "At the municipality, with the application"],
  [ConsentSource.PAPER_RECORDED_BY_INSURER]: ["書面（保険者が記録）", "On paper, recorded by the insurer"],
};
export const sourceLabel = (s: ConsentSource, lang: Lang) => pick(SOURCE[s], lang);

const PURPOSE: Partial<Record<Purpose, Pair>> = {
  [Purpose.UNSPECIFIED]: ["—", "—"],
  [Purpose.SERVICE_PROVISION]: ["サービス提供", "Service provision"],
  [Purpose.CARE_PLANNING]: ["ケアプラン作成", "Care planning"],
  [Purpose.BILLING]: ["請求", "Billing"],
  [Purpose.CERTIFICATION]: ["要介護認定", "Certification"],
  [Purpose.OPINION_WRITING]: ["主治医意見書の作成", "Writing an opinion"],
  [Purpose.ADMINISTRATION]: ["保険者事務", "Administration"],
  [Purpose.SELF_VIEW]: ["本人による閲覧", "Self view"],
  [Purpose.AUDIT]: ["監査", "Audit"],
  [Purpose.SUPPORT]: ["運用支援", "Support"],
};
export const purposeLabel = (p: Purpose, lang: Lang) => pick(PURPOSE[p], lang);

const ROLE: Partial<Record<Role, Pair>> = {
  [Role.INSURER]: ["保険者", "Insurer"],
  [Role.CARE_OFFICE]: ["居宅介護支援事業所", "Care management office"],
  [Role.SERVICE_PROVIDER]: ["介護サービス事業所", "Care service provider"],
  [Role.MEDICAL_INSTITUTION]: ["医療機関", "Medical institution"],
  [Role.INSURED_PERSON]: ["ご本人", "You"],
  [Role.OPERATOR]: ["運用担当", "Platform operator"],
  [Role.SYSTEM]: ["システム", "System"],
};
export const roleLabel = (r: Role, lang: Lang) => pick(ROLE[r], lang);

const STATUS: Partial<Record<NotificationStatus, Pair>> = {
  [NotificationStatus.SUBMITTED]: ["受理待ち", "Waiting for the insurer"],
  [NotificationStatus.ACCEPTED]: ["受理済み", "Accepted"],
  [NotificationStatus.RETURNED]: ["返戻", "Returned"],
};
export const notificationStatusLabel = (s: NotificationStatus, lang: Lang) => pick(STATUS[s], lang);

/** What was read, as the person's access log names it (an unknown word is shown as a code). */
const READ_CATEGORY: Record<string, Pair> = {
  registrations: ["担当事業所の登録", "Registrations"],
  consents: ["同意", "Consents"],
  access_decision: ["閲覧可否の確認", "Access decision"],
  insurance_certificates: ["被保険者証等", "Insurance certificates"],
  cost_share: ["負担割合・負担限度額", "Co-payment ratio and cost limits"],
  certification: ["認定情報", "Certification"],
  care_plan: ["ケアプラン", "Care plans"],
  relationships: ["担当事業所と同意", "Registrations and consents"],
  record_reads: ["閲覧の記録", "Access log"],
  access_log: ["閲覧の記録", "Access log"],
  // The other services' trails (docs/domain/access.md#access-log).
  eligibility: ["資格情報（被保険者証等）", "Eligibility (insurance certificates)"],
  application: ["要介護認定の申請", "Certification application"],
  opinion: ["主治医意見書", "Attending physician's opinion"],
  opinion_request: ["主治医意見書の作成依頼", "Opinion request"],
  attachment: ["主治医意見書の添付書類", "Opinion attachment"],
  bundle: ["ケアプラン", "Care plan"],
};
export const readCategoryLabel = (c: string, lang: Lang): string | null => {
  const p = READ_CATEGORY[c];
  return p ? pick(p, lang) : null;
};

/** Which service's trail a read comes from. */
const SERVICE: Record<string, Pair> = {
  registry: ["登録・同意", "Registry"],
  eligibility: ["資格確認", "Eligibility"],
  certification: ["要介護認定", "Certification"],
  documents: ["主治医意見書", "Opinions"],
  careplan: ["ケアプラン", "Care plans"],
};
export const readServiceLabel = (s: string, lang: Lang): string | null => {
  const p = SERVICE[s];
  return p ? pick(p, lang) : null;
};

const OUTCOME: Record<string, Pair> = {
  allowed: ["閲覧", "Read"],
  denied: ["拒否", "Refused"],
  not_found: ["該当なし", "Nothing found"],
};
export const outcomeLabel = (o: string, lang: Lang): string | null => {
  const p = OUTCOME[o];
  return p ? pick(p, lang) : null;
};

/** An organisation as kind and number. */
export const organizationText = (o: Organization | undefined, lang: Lang) =>
  o ? `${kindLabel(o.kind, lang)} ${o.number}` : "—";

/** To whom a consent is given. */
export function granteeText(c: Consent, lang: Lang): string {
  const g = c.grantee?.grantee;
  if (g?.case === "organization") return organizationText(g.value, lang);
  if (g?.case === "organizationKind")
    return lang === "ja" ? `すべての${kindLabel(g.value, lang)}` : `Every ${kindLabel(g.value, lang).toLowerCase()}`;
  return "—";
}

export const personText = (p: PersonRef | undefined) => (p ? `${p.insurerNumber} ${p.insuredNumber}` : "—");
