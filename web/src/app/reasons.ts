// The screens' own words for the services' errors. The API explains itself in English for
// developers; a clerk reads these instead, chosen by the stable codes the API sends:
// ErrorInfo.reason, the careplan checker's issue codes, and the field path of a BadRequest
// violation (mapped to the form's label). reasons.test.ts fails when a code the contracts
// (proto/ comments) or the services document has no Japanese message here.
import type { Lang } from "./i18n";

/** [Japanese, English] for one code. */
type Pair = readonly [string, string];

/** ErrorInfo reasons (call level) and PreconditionFailure types. */
export const REASONS: Readonly<Record<string, Pair>> = {
  // request shape and identity
  INVALID_ARGUMENT: ["入力内容に誤りがあります。", "Some input is not valid."],
  INVALID_CHECK_DIGIT: ["番号の検査数字が一致しません。番号を確かめてください。", "The check digit does not match."],
  REQUEST_ID_REUSED: [
    "同じ操作番号で内容の異なる送信がありました。画面を読み込み直してからやり直してください。",
    "The same request was sent again with different content. Reload and try again.",
  ],
  CALLER_MISSING: ["サインインの情報が確認できません。もう一度サインインしてください。", "Please sign in again."],
  CALLER_CONTEXT_INVALID: [
    "サインインの情報が確認できません。もう一度サインインしてください。",
    "Please sign in again.",
  ],
  TOKEN_INVALID: [
    "サインインの有効期限が切れたか、無効です。もう一度サインインしてください。",
    "Please sign in again.",
  ],
  CLIENT_CERTIFICATE_MISSING: ["この接続にはクライアント証明書が必要です。", "A client certificate is required."],
  CLIENT_CERTIFICATE_MISMATCH: [
    "クライアント証明書がサインイン中の組織と一致しません。",
    "The client certificate does not match.",
  ],
  INTERNAL: [
    "システムで問題が発生しました。しばらくしてから再試行し、解決しない場合は運用者にお問い合わせください。",
    "Something went wrong on our side. Try again later; if it persists, contact the operator.",
  ],
  REQUEST_BODY_MALFORMED: [
    "送信内容を読み取れませんでした。画面を読み込み直してからやり直してください。",
    "The request could not be read. Reload and try again.",
  ],
  REQUEST_CARDINALITY: ["この操作はこの接続方法では行えません。", "This call is not supported this way."],
  HEADERS_TOO_LARGE: [
    "送信する情報が大きすぎます。サインインし直してからやり直してください。",
    "The request headers are too large. Sign in again and retry.",
  ],
  RATE_LIMITED: [
    "利用が集中しています。しばらく待ってから再試行してください。",
    "Too many requests. Try again shortly.",
  ],
  DEPENDENCY_UNAVAILABLE: [
    "関連するサービスに接続できません。しばらく待ってから再試行してください。",
    "A service it depends on is unavailable. Try again shortly.",
  ],
  UPSTREAM_CIRCUIT_OPEN: [
    "サービスが一時的に応答していません。しばらく待ってから再試行してください。",
    "The service is temporarily not answering. Try again shortly.",
  ],
  CONCURRENT_WRITE: [
    "他の更新と重なりました。もう一度お試しください。",
    "Another change came at the same time. Try again.",
  ],
  CONCURRENT_CHANGE: [
    "他の更新と重なりました。もう一度お試しください。",
    "Another change came at the same time. Try again.",
  ],
  STALE_VERSION: [
    "読み込んだ後に他の方が内容を更新しました。最新の内容を読み込んでからやり直してください。",
    "It changed since you loaded it. Reload and try again.",
  ],
  VERSION_MISMATCH: [
    "読み込んだ後に内容が更新されました。最新の内容を読み込んでからやり直してください。",
    "It changed since you loaded it. Reload and try again.",
  ],
  // who may do what
  PERMISSION_DENIED: ["この情報を扱う権限がありません。", "You may not do this."],
  ROLE_NOT_ALLOWED: ["この立場ではこの操作は行えません。", "Your role may not do this."],
  ROLE_MAY_NOT_CHECK: ["この立場では資格確認を行えません。", "Your role may not check eligibility."],
  OTHER_INSURER: ["他の保険者の被保険者は確認できません。", "An insurer may check only its own insured persons."],
  HISTORY_INSURER_ONLY: ["資格の履歴は保険者だけが閲覧できます。", "Only the insurer sees the history."],
  WRITE_OWN_INSURED_ONLY: [
    "自らの保険者の被保険者だけを更新できます。",
    "An insurer may change only its own insured persons.",
  ],
  CONSENT_REQUIRED: ["本人の同意が確認できないため表示できません。", "The person's consent is required."],
  PURPOSE_UNSPECIFIED: ["利用目的が指定されていません。", "No purpose was given."],
  READ_NOT_ALLOWED: ["この申請を閲覧する権限がありません。", "You may not read this application."],
  LIST_NOT_ALLOWED: ["この一覧を閲覧する権限がありません。", "You may not list these applications."],
  STEP_NOT_ALLOWED: ["この手続きを記録する権限がありません。", "You may not record this step."],
  SUBMIT_NOT_ALLOWED: ["この申請を行う権限がありません。", "You may not file this application."],
  STATISTICS_NOT_ALLOWED: ["この集計を閲覧する権限がありません。", "You may not see these figures."],
  NOT_OWN_APPLICATION: ["この申請は閲覧できないか、存在しません。", "The application is not yours, or does not exist."],
  APPLICANT_ONLY: ["下書きを変更できるのは申請者だけです。", "Only the applicant changes its draft."],
  OPERATOR_ONLY: ["この操作は運用者だけが行えます。", "Only an operator may do this."],
  SUBSIDY_ROLE_NOT_ALLOWED: ["この立場では助成金を申請できません。", "Your role may not apply for this subsidy."],
  OFFICE_CALLER_REQUIRED: ["事業所としてサインインしてください。", "Sign in as an office."],
  NOT_A_PARTY: [
    "この送付は送信元と送信先の事業所だけが閲覧できます。",
    "Only the sending and receiving offices see it.",
  ],
  NOT_OWN_OFFICE: ["自事業所の送付だけを一覧できます。", "An office lists only its own bundles."],
  NOT_SENDER: ["送信元は自事業所でなければなりません。", "The sender must be your own office."],
  NOT_RECEIVER: ["受領確認は送信先の事業所だけが行えます。", "Only the receiving office acknowledges it."],
  NOT_REQUESTED_INSTITUTION: [
    "この意見書は依頼を受けた医療機関だけが作成できます。",
    "Only the institution asked may submit.",
  ],
  NOT_UPLOAD_OWNER: ["このアップロードは別の利用者のものです。", "This upload belongs to someone else."],
  // not found
  NOT_FOUND: ["見つかりません。", "Not found."],
  APPLICATION_NOT_FOUND: ["申請が見つかりません。", "No such application."],
  PERSON_NOT_FOUND: ["この保険者にその被保険者は登録されていません。", "No such insured person at this insurer."],
  PERSON_NOT_REGISTERED: ["被保険者が登録されていません。", "The insured person is not registered."],
  RECORD_NOT_FOUND: ["該当する記録が見つかりません。", "No such record."],
  RECORD_NOT_ACTIVE: ["この記録は既に終了または取消されています。", "The record is no longer active."],
  OPINION_NOT_FOUND: ["意見書が見つかりません。", "No such opinion."],
  OPINION_REQUEST_NOT_FOUND: ["意見書の作成依頼が見つかりません。", "No such opinion request."],
  ATTACHMENT_NOT_FOUND: ["添付ファイルが見つかりません。", "No such attachment."],
  UPLOAD_NOT_FOUND: [
    "アップロードが見つかりません（期限切れか完了済みです）。もう一度選択してください。",
    "No such upload (expired or finished). Choose the file again.",
  ],
  BUNDLE_NOT_FOUND: ["送付データが見つかりません。", "No such bundle."],
  PROGRAMME_NOT_FOUND: ["助成制度が見つかりません。", "No such programme."],
  RECEIVER_NOT_REGISTERED: ["送信先の事業所が登録されていません。", "The receiving office is not registered."],
  BLOB_MISSING: ["ファイルの内容が見つかりません。運用者に連絡してください。", "The file content is missing."],
  BLOB_CORRUPTED: ["ファイルの内容が破損しています。運用者に連絡してください。", "The file content is damaged."],
  DIGEST_MISMATCH: [
    "ファイルが途中で変わりました。もう一度アップロードしてください。",
    "The file changed in transit. Upload again.",
  ],
  // eligibility
  NOT_INSURED: ["この保険者の被保険者として登録されていません。", "Not insured with this insurer."],
  QUALIFICATION_LOST: ["この日付では資格を喪失しています。", "The qualification was lost by this date."],
  NOT_YET_QUALIFIED: ["この日付ではまだ資格を取得していません。", "Not yet qualified on this date."],
  NOT_CERTIFIED: ["要介護認定を受けていません。", "Not certified."],
  CERTIFICATION_EXPIRED: ["要介護認定の有効期間が終了しています。", "The certification has expired."],
  ASSESSED_NOT_APPLICABLE: ["認定の結果は非該当です。", "Assessed as not applicable."],
  PROGRAMME_ONLY: ["事業対象者です（総合事業のサービスのみ）。", "Programme-eligible only."],
  PERIOD_OVERLAP: ["既に登録されている期間と重なっています。", "The period overlaps one already recorded."],
  PERIOD_REVERSED: ["終了日が開始日より前になっています。", "The end is before the start."],
  PERIOD_ENDS_BEFORE_START: ["終了日が開始日より前になっています。", "The end is before the start."],
  VALIDITY_OUT_OF_RANGE: [
    "有効期間が認められる範囲を超えています。",
    "The validity period is outside the allowed range.",
  ],
  VALIDITY_START_MISMATCH: ["有効期間の開始日が規則と一致しません。", "The validity start does not follow the rules."],
  CERTIFICATION_VALIDITY_OUT_OF_RANGE: [
    "認定の有効期間が認められる範囲を超えています。",
    "The certification's validity is outside the allowed range.",
  ],
  CERTIFICATION_VALIDITY_OPEN: ["認定の有効期間には終了日が必要です。", "A certification's validity needs an end."],
  COPAYMENT_PERIOD_CROSSES_JULY_31: [
    "負担割合の期間は7月31日をまたげません（8月1日から翌年7月31日まで）。",
    "A co-payment period may not cross 31 July.",
  ],
  SECOND_CATEGORY_PAYS_ONE_TENTH: [
    "65歳になる前（第2号被保険者）の負担割合は1割です。",
    "Before 65 (第2号被保険者) the co-payment is 1割.",
  ],
  CLOSE_EXTENDS_PERIOD: ["終了によって期間を延ばすことはできません。", "Closing may not extend the period."],
  CORRECTION_LINK_REQUIRED: ["訂正する元の記録を指定してください。", "Name the record being corrected."],
  CORRECTION_KIND_MISMATCH: ["訂正する記録と種類が一致しません。", "The correction is of another kind."],
  QUALIFICATION_SPAN_REQUIRED: [
    "資格期間が1件だけのため取り消せません。訂正してください。",
    "A person keeps at least one qualification span; correct it instead.",
  ],
  // 住宅改修費・福祉用具購入費
  CLAIM_REFERENCE_IN_USE: [
    "この支給決定番号は既に登録されています。登録済みの記録を訂正してください。",
    "This claim reference is already recorded; correct that use instead.",
  ],
  USE_NOT_FOUND: ["指定された住宅改修・福祉用具購入の記録が見つかりません。", "No such allowance use."],
  USE_NOT_ACTIVE: [
    "この記録は既に訂正または取り消されています。最新の記録に対して操作してください。",
    "The use was corrected or voided; act on its successor.",
  ],
  ALLOWANCE_CHECK_ONLY: [
    "事業所として確認できるのは支給限度額の残りだけです。利用の明細は本人・保険者・担当のケアマネジャーが閲覧できます。",
    "A provider checks the remaining allowance only; the uses are for the person, the insurer and the care office.",
  ],
  // certification workflow
  INSURED_PERSON_UNKNOWN: [
    "保険者にこの被保険者の登録がありません。保険者番号と被保険者番号を確かめてください。",
    "The insurer has no such insured person. Check the numbers.",
  ],
  INSURED_PERSON_NOT_QUALIFIED: [
    "申請日にこの方は被保険者の資格がありません。",
    "The person is not insured on the application date.",
  ],
  OPEN_APPLICATION_EXISTS: ["この方には処理中の申請が既にあります。", "The person already has an open application."],
  CURRENT_CERTIFICATION_EXISTS: [
    "有効な認定があるため新規申請はできません。更新または区分変更で申請してください。",
    "A certification is in force: apply for a renewal or a level change.",
  ],
  NO_CURRENT_CERTIFICATION: [
    "有効な認定がないため更新・区分変更の申請はできません。新規で申請してください。",
    "No certification is in force: file a new application.",
  ],
  APPLICATION_CLOSED: ["この申請は既に終了しています。", "The application is closed."],
  ALREADY_DECIDED: ["この申請は既に認定済みです。", "The application is already decided."],
  NOT_DECIDED: ["まだ認定されていません。", "Not decided yet."],
  NOTICE_BEFORE_DECISION: ["認定の前に結果を通知することはできません。", "The notice cannot come before the decision."],
  DECISION_BEFORE_BOARD: ["審査会の前に認定することはできません。", "The decision cannot come before the board."],
  SURVEY_NOT_SCHEDULED: ["認定調査がまだ予定されていません。", "The survey is not scheduled."],
  SURVEY_NOT_COMPLETED: ["認定調査の結果がまだ記録されていません。", "No survey result is recorded."],
  SURVEY_ALREADY_COMPLETED: ["認定調査は既に完了しています。", "The survey is already completed."],
  SURVEY_RESULT_INCOMPLETE: ["認定調査の結果に不足があります。", "The survey result is incomplete."],
  SURVEY_DATE_BEFORE_APPLICATION: [
    "調査日が申請日より前になっています。",
    "The survey date is before the application.",
  ],
  OPINION_NOT_REQUESTED: ["主治医意見書がまだ依頼されていません。", "The opinion has not been requested."],
  OPINION_NOT_RECEIVED: ["一次判定には主治医意見書の受領が必要です。", "The primary judgment needs the opinion."],
  OPINION_ALREADY_RECEIVED: ["主治医意見書は既に受領しています。", "The opinion is already received."],
  OPINION_NOT_YET_RECEIVED: [
    "主治医意見書をまだ受領していません。依頼し直すか、受領を待ってください。",
    "No opinion is received yet; request it again or wait for it.",
  ],
  CERTIFICATION_CARRIED_OVER: [
    "転入で認定を引き継ぐ申請です。調査や審査会は行わず、認定を記録してください。",
    "This move-in carries the certification over: record the decision, no survey or board.",
  ],
  TRANSFER_LEVEL_MISMATCH: [
    "転入の認定は受給資格証明書の要介護状態区分を引き継ぎます。",
    "A move-in carries the certificate's level over.",
  ],
  TRANSFER_WINDOW_PASSED: [
    "転入日から申請期間を過ぎています。新規申請をしてください。",
    "Too long after moving in to carry the certification over; file a new application.",
  ],
  TRANSFER_CERTIFICATE_EXPIRED: [
    "受給資格証明書の有効期間が申請日より前に終わっています。新規申請をしてください。",
    "The certificate's validity ended before the application; file a new application.",
  ],
  DEFERRAL_BEFORE_BOARD: [
    "継続審査の日付が審査会の予定日より前になっています。",
    "The deferral is dated before the scheduled board.",
  ],
  ALREADY_RECEIVED: ["既に受領しています。", "Already received."],
  PRIMARY_JUDGMENT_MISSING: ["一次判定がまだ記録されていません。", "No primary judgment is recorded."],
  PRIMARY_JUDGMENT_ALREADY_RECORDED: ["一次判定は既に記録されています。", "The primary judgment is already recorded."],
  PRIMARY_JUDGMENT_PREREQUISITES_MISSING: [
    "一次判定には認定調査の結果と主治医意見書が必要です。",
    "The primary judgment needs the survey result and the opinion.",
  ],
  REVIEW_BOARD_NOT_SCHEDULED: ["審査会がまだ予定されていません。", "The review board is not scheduled."],
  BOARD_DATE_BEFORE_APPLICATION: [
    "審査会の日付が申請日より前になっています。",
    "The board date is before the application.",
  ],
  DELAY_NOTICE_BEFORE_APPLICATION: [
    "延期通知の日付が申請日より前になっています。",
    "The delay notice is dated before the application.",
  ],
  DELAY_NOTICE_BEFORE_PREVIOUS: [
    "延期通知の日付が前回の通知より前になっています。",
    "The delay notice is dated before the previous one.",
  ],
  DELAY_NOTICE_AFTER_DEADLINE: [
    "延期通知は処理期限（30日）までに出す必要があります。",
    "A delay notice must come by the 30-day deadline.",
  ],
  DELAY_EXPECTED_DATE_NOT_AFTER_DEADLINE: [
    "処理見込日は処理期限より後の日付にしてください。",
    "The expected date must be after the deadline.",
  ],
  DELAY_EXPECTED_DATE_NOT_AFTER_PREVIOUS: [
    "処理見込日は前回の見込日より後の日付にしてください。",
    "The expected date must be after the previous one.",
  ],
  WITHDRAWAL_BEFORE_APPLICATION: [
    "取下げの日付が申請日より前になっています。",
    "The withdrawal is dated before the application.",
  ],
  EVENT_NOT_APPLICABLE: [
    "この通知は申請の現在の状態に当てはまりません。",
    "The event does not apply to the application.",
  ],
  // documents
  OPINION_REQUEST_NOT_OPEN: ["この作成依頼は受付を終了しています。", "The request is no longer open."],
  OPINION_REQUEST_CANCELLED: ["この作成依頼は取り消されました。", "The request was cancelled."],
  OPINION_REQUEST_ALREADY_OPEN: ["この申請には受付中の作成依頼が既にあります。", "An open request already exists."],
  OPINION_SUPERSEDED: ["この意見書には新しい版があります。", "A newer version exists."],
  PREVIOUS_OPINION_NOT_LATEST: [
    "訂正できるのは最新の版だけです。最新の内容を読み込んでください。",
    "Only the latest version can be corrected.",
  ],
  NO_PREVIOUS_OPINION: ["訂正する元の意見書がありません。", "There is no opinion to correct."],
  FORM_NOT_IN_VERSION: ["この様式はこの記入日には使えません。", "This form edition is not accepted for this date."],
  VERSION_NOT_IN_FORCE: ["この様式は記入日の時点で使えません。", "This form edition is not in force on that date."],
  UPLOAD_OFFSET_MISMATCH: [
    "アップロードの位置がずれました。もう一度アップロードしてください。",
    "The upload went out of step. Upload again.",
  ],
  UPLOAD_INTERRUPTED: ["アップロードが中断されました。もう一度お試しください。", "The upload broke off. Try again."],
  UPLOAD_INCOMPLETE: ["アップロードが完了していません。", "The upload is not complete."],
  UPLOAD_ALREADY_FINISHED: ["このアップロードは既に完了しています。", "The upload is already finished."],
  // subsidies
  APPLICATION_EXISTS: ["この制度には既に申請しています。", "You have already applied to this programme."],
  APPLICATION_NOT_DRAFT: [
    "下書きか差し戻された申請だけを変更・提出できます。",
    "Only a draft or a returned application can be changed or submitted.",
  ],
  REAPPLICATION_NOT_ALLOWED: [
    "この制度では、却下された後に再び申請することはできません。",
    "This programme does not take a new application after a rejection.",
  ],
  APPLICATION_NOT_SUBMITTED: ["提出済みの申請ではありません。", "The application is not submitted."],
  APPLICATION_NOT_UNDER_REVIEW: ["審査中の申請ではありません。", "The application is not under review."],
  APPLICATION_NOT_APPROVED: ["承認済みの申請ではありません。", "The application is not approved."],
  APPLICATION_NOT_PENDING: ["この申請は処理待ちではありません。", "The application is not pending."],
  APPLICATION_DEADLINE_PASSED: ["申請期限を過ぎています。", "The application deadline has passed."],
  APPLICATION_PERIOD_NOT_OPEN: ["申請の受付期間ではありません。", "Applications are not open."],
  PROGRAMME_WITHDRAWN: ["この助成制度は終了しました。", "The programme is no longer offered."],
  NOTHING_ELIGIBLE: ["助成の対象となる経費がありません。", "Nothing in it is eligible."],
  EVIDENCE_ALREADY_ATTACHED: ["このファイルは既に添付されています。", "This file is already attached."],
  TOO_MANY_EVIDENCE_FILES: ["添付できるファイルの数を超えています。", "Too many evidence files."],
  // careplan licences
  LICENCE_REQUIRED: ["ケアプランデータ連携のライセンスが必要です。", "A care-plan data licence is required."],
  FREE_PASS_WINDOW: ["フリーパスの利用期間ではありません。", "Outside the free-pass window."],
  FREE_PASS_ALREADY_USED: ["フリーパスは既に利用しています。", "The free pass has already been used."],
  SEQUENCE_ALREADY_SENT: ["このファイル連番は既に送信済みです。", "This file sequence was already sent."],
  SEQUENCE_MISMATCH: ["ファイル連番がそろっていません。", "The file sequence numbers do not match."],
  ADDRESS_MISMATCH: [
    "ファイル名の送信元・送信先が指定した事業所と一致しません。",
    "The file names' sender or receiver does not match.",
  ],
  WRONG_SIDE: ["この種類のデータは送信できない立場です。", "Your side does not send this kind of unit."],
  SERVICE_TYPE_NOT_REGISTERED: [
    "送信元の事業所にこのサービス種類が登録されていません。",
    "The sending office has not registered this service type.",
  ],
  UNKNOWN_SEND_UNIT: ["送付単位の種類が判別できません。", "Unknown send unit."],
  TOO_MANY_ISSUES: [
    "問題が多すぎるため、最初の一部だけを表示しています。",
    "Too many problems; the first ones are shown.",
  ], // registry: who is registered for whom, consents, card confirmation, the person's own view
  NOT_REGISTERED: [
    "この方の担当事業所として登録されていないため表示できません。",
    "Your organisation is not registered for this person.",
  ],
  NOT_PERMITTED: ["この情報はご利用の立場では閲覧できません。", "Your role may not see this information."],
  ALREADY_REGISTERED: [
    "この方の担当事業所として既に登録されています。",
    "Your organisation is already registered for this person.",
  ],
  ALREADY_ENDED: ["この登録は既に終了しています。", "This registration has already ended."],
  ALREADY_WITHDRAWN: ["この同意は既に撤回されています。", "This consent has already been withdrawn."],
  REGISTRATION_NOT_FOUND: ["該当する登録が見つかりません。", "No such registration."],
  CONSENT_NOT_FOUND: ["該当する同意が見つかりません。", "No such consent."],
  NOT_YOUR_REGISTRATION: [
    "この登録を終了できるのは、登録した事業所またはご本人の保険者だけです。",
    "Only the registered organisation or the person's insurer ends this registration.",
  ],
  WITHDRAWAL_NOT_ALLOWED: [
    "同意を撤回できるのは、ご本人またはご本人の保険者だけです。",
    "Only the person or the person's insurer withdraws a consent.",
  ],
  FOR_ANOTHER_ORGANIZATION: [
    "自分の事業所・医療機関についてのみ操作できます。",
    "An organisation acts only for itself.",
  ],
  EVIDENCE_NOT_ALLOWED: [
    "事業所の登録には、カードリーダーでの本人確認が必要です。",
    "An organisation registers itself only after confirming the person with the card.",
  ],
  CONSENT_SOURCE_NOT_ALLOWED: [
    "事業所が記録できるのは、カードリーダーで得た同意だけです。",
    "An organisation records only consents given at its card reader.",
  ],
  NOT_OWN_INSURED: ["この操作はご本人の保険者だけが行えます。", "Only the person's own insurer may do this."],
  LINK_HELD_BY_ANOTHER_INSURER: [
    "このカードは別の保険者が既にひも付けています。",
    "Another insurer has already linked this card.",
  ],
  CARD_READER_NOT_CONFIGURED: [
    "カードによる本人確認はこの環境では設定されていません。運用担当者にお問い合わせください。",
    "Card confirmation is not configured here; contact the operator.",
  ],
  CHALLENGE_EXPIRED: [
    "本人確認の有効時間が過ぎました。もう一度カードを読み取ってください。",
    "The confirmation timed out; read the card again.",
  ],
  CHALLENGE_ALREADY_USED: [
    "この本人確認は既に使われています。もう一度カードを読み取ってください。",
    "This confirmation was already used; read the card again.",
  ],
  CONFIRMATION_OF_ANOTHER_ORGANIZATION: [
    "この本人確認は別の事業所で開始されたものです。",
    "This confirmation was started by another organisation.",
  ],
  CONFIRMATION_OF_ANOTHER_PERSON: ["この本人確認は別の方のものです。", "This confirmation is of another person."],
  CONFIRMATION_NOT_FOUND: [
    "該当する本人確認が見つかりません。もう一度カードを読み取ってください。",
    "No such card confirmation; read the card again.",
  ],
  CONFIRMATION_NOT_COMPLETED: ["カードによる本人確認が完了していません。", "The card confirmation is not complete."],
  CONFIRMATION_EXPIRED: [
    "本人確認から時間が経ちすぎています。もう一度カードを読み取ってください。",
    "The card confirmation is too old; read the card again.",
  ],
  CARD_SIGNATURE_INVALID: [
    "カードの署名を確認できませんでした。もう一度読み取ってください。",
    "The card's signature did not verify; read it again.",
  ],
  CARD_CERTIFICATE_MALFORMED: ["カードの証明書を読み取れませんでした。", "The card's certificate could not be read."],
  CARD_CERTIFICATE_UNTRUSTED: [
    "このカードの証明書は信頼できる発行元のものではありません。",
    "The card's certificate is not from a trusted issuer.",
  ],
  CARD_CERTIFICATE_EXPIRED: ["カードの証明書の有効期限が切れています。", "The card's certificate has expired."],
  CARD_REVOKED: ["このカードは失効しています。", "This card has been revoked."],
  CARD_NOT_LINKED: [
    "このカードはどの保険者にもひも付けられていません。保険者にお問い合わせください。",
    "No insurer has linked this card; ask the insurer.",
  ],
  NOTIFICATION_NOT_FOUND: ["該当する居宅サービス計画作成依頼届出が見つかりません。", "No such care-plan notification."],
  NOTIFICATION_ALREADY_DECIDED: [
    "この届出は既に受理または返戻されています。画面を読み込み直してください。",
    "This notification was already decided; reload.",
  ],
  IDENTITY_LINK_UNKNOWN: ["ご本人の確認情報が保険者に登録されていません。", "No insurer has linked this identity."],
  IDENTITY_LINK_REVOKED: [
    "ご本人の確認情報は無効になっています。保険者にお問い合わせください。",
    "This identity link has been revoked; ask the insurer.",
  ],
  IDENTITY_LINK_NOT_CALLERS: ["ご自身の情報だけを表示できます。", "You may see only your own information."],
  NOT_YOUR_RECORD: ["ご自身の記録ではありません。", "This record is not yours."],
};

/** Issue codes of the care-plan CSV checker (per file, line and column). */
export const ISSUE_CODES: Readonly<Record<string, Pair>> = {
  NOT_MS932: ["文字コードがShift_JIS（MS932）ではありません。", "Not MS932 (Shift_JIS) encoded."],
  WRONG_ENCODING: ["文字コードがShift_JIS（MS932）ではありません。", "Wrong character encoding."],
  GAIJI: ["外字（機種依存文字）は使えません。", "Non-standard characters are not allowed."],
  BAD_CHARACTER: ["使えない文字が含まれています。", "A character is not allowed."],
  COLUMN_COUNT: ["項目の数が様式と一致しません。", "Wrong number of columns."],
  BAD_CHECK_DIGIT: ["番号の検査数字が一致しません。", "The check digit does not match."],
  BAD_OFFICE_NUMBER: ["事業所番号が正しくありません。", "Not a valid office number."],
  BAD_NUMBER: ["数値が正しくありません。", "Not a valid number."],
  BAD_DECIMAL: ["単位数単価は 99.99 の形式で記入してください。", "Must be a decimal like 99.99."],
  BAD_DATE: ["日付が正しくありません（年月日 8桁）。", "Not a calendar date (YYYYMMDD)."],
  BAD_TIME: ["時刻が正しくありません（時分 4桁、0000〜2400）。", "Not a time of day (HHMM)."],
  BAD_YEAR_MONTH: ["年月が正しくありません（年月 6桁）。", "Not a year-month (YYYYMM)."],
  BAD_LENGTH: ["桁数が正しくありません。", "Wrong number of digits."],
  BAD_FORMAT: ["形式が正しくありません。", "Wrong format."],
  NOT_DIGITS: ["半角数字で記入してください。", "Must be half-width digits."],
  REQUIRED_MISSING: ["必須の項目が空です。", "A required column is empty."],
  UNKNOWN_CODE: ["コード表にない値です。", "Not a known code."],
  MISSING_REQUIRED_FILE: ["必要なファイルがそろっていません。", "A required file is missing."],
  BAD_FILE_NAME: ["ファイル名が規則に合っていません。", "The file name does not follow the rules."],
  BAD_FILE_SEQUENCE: ["ファイル名の連番が正しくありません。", "Wrong sequence in the file name."],
  UNKNOWN_FILE_KIND: ["ファイルの種類が判別できません。", "Unknown kind of file."],
  UNEXPECTED_FILE: ["この送付単位に含められないファイルです。", "This file does not belong in this unit."],
  DUPLICATE_FILE: ["同じ種類のファイルが重複しています。", "The same file is included twice."],
  EMPTY_FILE: ["ファイルが空です。", "The file is empty."],
  BLANK_LINE: ["空の行があります。", "A blank line."],
  UNTERMINATED_QUOTE: ['引用符（"）が閉じていません。', "A quote is not closed."],
  STRAY_QUOTE: ['引用符（"）の位置が正しくありません。', "A stray quote."],
  TEXT_AFTER_QUOTE: ['引用符（"）の後に文字があります。', "Text after a closing quote."],
  FREE_TEXT_NOT_QUOTED: ['自由記述の項目は引用符（"）で囲んでください。', "Free text must be quoted."],
  UNKNOWN_CSV_VERSION: ["CSVバージョンが判別できません。", "Unknown CSV version."],
  MIXED_CSV_VERSION: ["ファイルごとにCSVバージョンが異なります。", "The files have different CSV versions."],
  UNKNOWN_LAYOUT: ["様式が判別できません。", "Unknown layout."],
  LAYOUT_MISMATCH: ["ファイルの様式が種類と一致しません。", "The layout does not match the file kind."],
  VERSION_LAYOUT_MISMATCH: ["CSVバージョンと様式が一致しません。", "The CSV version and layout do not match."],
  HEADER_ROW_SKIPPED: ["見出し行を読み飛ばしました。", "A header row was skipped."],
  TOTAL_ROW: ["合計行の内容が正しくありません。", "The total row is not valid."],
  TOTAL_ROW_MISMATCH: ["合計行が明細の合計と一致しません。", "The total row does not match the details."],
  SUBTOTAL_UNITS: ["小計の単位数が一致しません。", "The subtotal units do not match."],
  SUBTOTAL_NOT_NULL: ["この行には小計を記入しません。", "This row takes no subtotal."],
  MONTH_MISMATCH: ["対象年月がファイル名と一致しません。", "The service month does not match the file name."],
  DATE_OUTSIDE_MONTH: ["日付が対象年月の外です。", "The date is outside the service month."],
  DATE_ORDER: ["日付の順序が正しくありません。", "The dates are out of order."],
  SLOTS_NOT_IN_ORDER: ["時間帯の順序が正しくありません。", "The time slots are out of order."],
  TIME_PAIR: ["開始時刻と終了時刻は両方記入してください。", "Give both start and end times."],
  SUPPLEMENT_SET_UNCLEAR: ["補足情報の組合せが判別できません。", "The supplementary set is unclear."],
  DETAIL_NO_NOT_ALLOWED: [
    "明細判別コードは福祉用具貸与だけに記入します。",
    "The detail code is only for equipment rental.",
  ],
  EQUIPMENT_CODE_REQUIRED: ["福祉用具のコードを記入してください。", "The equipment code is required."],
  SERVICE_TYPE_NOT_EXCHANGED: [
    "ケアプランデータ連携の対象外のサービス種類です。",
    "This service type is outside the care-plan exchange.",
  ],
  NOT_CARE_MANAGEMENT_TYPE: [
    "居宅介護支援事業所のサービス種類は 43（居宅介護支援）か 46（介護予防支援）です。",
    "The care office's service type must be 43 or 46.",
  ],
  SET_WITHOUT_PARENT: [
    "同じ送付単位の第1表または第6表に、この行の利用者・作成日（対象年月）の記録がありません。",
    "No plan or usage record of this unit matches this row.",
  ],
  SUPPLEMENT_MISSING: [
    "この利用者の利用者補足情報が同じ送付単位にありません。",
    "The supplementary record of this person is missing from the unit.",
  ],
  // calculation lines of a subsidy (named in the contracts)
  READER_COST: ["カードリーダーの購入費", "Card-reader cost"],
  READER_LIMIT: ["カードリーダーの台数の上限", "Card-reader limit"],
  CONNECTION_SUPPORT: ["接続サポート等の経費", "Connection support"],
  SETUP_NOT_ELIGIBLE: ["初期設定の経費は対象外", "Set-up not eligible"],
  CATEGORY_CAP: ["区分ごとの上限", "Category cap"],
  TIER_CAP: ["病床数区分の上限", "Tier cap"],
  // lines of an allowance check, 住宅改修費・福祉用具購入費 (named in the contracts)
  NEW_DWELLING: ["転居後の住宅の支給限度", "New dwelling"],
  EARLIER_ALLOWANCE: ["以前の支給限度での利用", "Earlier allowance"],
  CARE_NEED_RISE: ["要介護度の3段階上昇による再支給", "Renewed on a rise of care need"],
  CARE_NEED_RISE_AVAILABLE: ["要介護度の3段階上昇: 次の改修から再支給", "Renewal available on a rise of care need"],
  CARE_NEED_RISE_USED: ["上昇による再支給は使用済み", "Renewal already used"],
  OVER_LIMIT: ["限度額を超える部分（全額自己負担）", "Over the limit"],
  NO_COPAYMENT_RATIO: ["受領日に有効な負担割合の記録なし", "No co-payment ratio in force"],
};

/** A code's words, or undefined when the catalogue has none. */
export function codeText(code: string | undefined, lang: Lang): string | undefined {
  if (!code) return undefined;
  const p = REASONS[code] ?? ISSUE_CODES[code];
  return p ? p[lang === "ja" ? 0 : 1] : undefined;
}

/** Labels of API field names that appear on several screens (the last path segment). */
const FIELD_LABELS: Readonly<Record<string, Pair>> = {
  insurer_number: ["保険者番号", "Insurer number"],
  insured_number: ["被保険者番号", "Insured number"],
  as_of: ["基準日", "Date"],
  office_number: ["事業所番号", "Office number"],
  institution_code: ["医療機関コード", "Institution code"],
  application_id: ["申請", "Application"],
  programme_id: ["助成制度", "Programme"],
  prefecture_code: ["都道府県", "Prefecture"],
  expected_version: ["版", "Version"],
  request_id: ["操作番号", "Request id"],
  amount_yen: ["金額", "Amount"],
  approved_amount_yen: ["承認額", "Approved amount"],
  paid_amount_yen: ["支払額", "Paid amount"],
  paid_date: ["支払日", "Payment date"],
  payment_reference: ["支払の参照番号", "Payment reference"],
  reason: ["理由", "Reason"],
  files: ["ファイル", "Files"],
  phone: ["電話番号", "Phone"],
  fax: ["FAX", "Fax"],
  page_token: ["ページ", "Page"],
  page_size: ["表示件数", "Page size"],
};

/** The label of an API field path: the screen's own label first, else a shared one. */
export function fieldLabel(path: string, lang: Lang, labels?: Readonly<Record<string, string>>): string | undefined {
  if (labels?.[path]) return labels[path];
  const last =
    path
      .replace(/\[\d+\]/g, "")
      .split(".")
      .pop() ?? path;
  const p = FIELD_LABELS[last];
  return p ? p[lang === "ja" ? 0 : 1] : undefined;
}

/**
 * A field violation in the reader's words. Violations carry a path and an English
 * developer description; the rule is recognised from the description's fixed wording
 * (the platform's identifier and range checks), else a general request to check the input.
 */
export function violationText(description: string, lang: Lang): string {
  const ja = lang === "ja";
  const d = description;
  let m: RegExpExecArray | null;
  if (/check digit/i.test(d))
    return ja ? "検査数字が一致しません。番号を確かめてください。" : "The check digit does not match.";
  if ((m = /exactly (\d+) characters/i.exec(d)))
    return ja ? `${m[1]}桁で入力してください。` : `Enter exactly ${m[1]} characters.`;
  if (/disallowed character|half-width|digits only|must be digits/i.test(d))
    return ja
      ? "使えない文字が含まれています。半角の数字（英大文字）で入力してください。"
      : "Use half-width digits (capital letters).";
  if (/^(is )?required\b|must not be empty|is missing/i.test(d)) return ja ? "入力してください。" : "Required.";
  if (/no such calendar date|not a calendar date/i.test(d)) return ja ? "存在しない日付です。" : "No such date.";
  if (/in the future|after today/i.test(d))
    return ja ? "今日より後の日付は入力できません。" : "May not be after today.";
  if (/before the start|ends before/i.test(d))
    return ja ? "開始日より前の日付は入力できません。" : "May not be before the start.";
  if ((m = /at most ([\d,]+) characters/i.exec(d)))
    return ja ? `${m[1]}文字以内で入力してください。` : `At most ${m[1]} characters.`;
  if ((m = /must be at least (\d+)/i.exec(d)))
    return ja ? `${m[1]}以上を入力してください。` : `Must be at least ${m[1]}.`;
  if (/must not be negative/i.test(d)) return ja ? "0以上を入力してください。" : "May not be negative.";
  if ((m = /must not exceed the (?:calculated )?(eligible|approved) amount(?: \((\d+) yen\))?/i.exec(d))) {
    const yen = m[2] ? Number(m[2]).toLocaleString("ja-JP") : "";
    if (m[1].toLowerCase() === "eligible") {
      return ja
        ? `助成対象額${yen ? `（${yen}円）` : ""}を超える金額は承認できません。`
        : `May not exceed the eligible amount${yen ? ` (¥${yen})` : ""}.`;
    }
    return ja
      ? `承認額${yen ? `（${yen}円）` : ""}を超える金額は入力できません。`
      : `May not exceed the approved amount${yen ? ` (¥${yen})` : ""}.`;
  }
  if (/digits and hyphens|phone/i.test(d))
    return ja ? "数字とハイフンで入力してください。" : "Digits and hyphens only.";
  if (/listed twice/i.test(d)) return ja ? "同じものが重複しています。" : "Listed twice.";
  if (/unknown|not a valid|unspecified/i.test(d))
    return ja ? "選択肢から選んでください。" : "Choose one of the options.";
  if (/form is accepted for opinions written up to/i.test(d))
    return ja ? "この様式はこの記入日には使えません。" : "This form edition is not accepted for this date.";
  return ja ? "入力内容を確認してください。" : d;
}

/** The message for an unknown code: a general sentence and the code for support. */
export function unknownReasonText(reason: string, lang: Lang): string {
  return lang === "ja"
    ? `エラーが発生しました（理由コード: ${reason}）。解決しない場合は、このコードを添えてお問い合わせください。`
    : `Something went wrong (reason code: ${reason}). If it persists, quote this code to support.`;
}
