// The screens of the app, in menu order. Each lives in its own folder with its own
// components and messages (ja + en); add a screen by adding one entry here.
import { lazy } from "react";
import type { ScreenDef } from "./types";

export const screens: readonly ScreenDef[] = [
  {
    id: "eligibility",
    path: "/eligibility",
    roles: ["insurer", "care_office", "service_provider", "medical_institution"],
    title: { ja: "資格確認", en: "Eligibility" },
    component: lazy(() => import("./eligibility/EligibilityScreen")),
  },
  {
    id: "applications",
    path: "/applications",
    roles: ["insurer", "care_office"],
    title: { ja: "申請状況", en: "Applications" },
    component: lazy(() => import("./applications/ApplicationsScreen")),
  },
  {
    id: "careplan",
    path: "/careplan",
    roles: ["care_office", "service_provider"],
    title: { ja: "ケアプラン", en: "Care plans" },
    component: lazy(() => import("./careplan/CarePlanScreen")),
  },
  {
    id: "opinions",
    path: "/opinions",
    roles: ["medical_institution"],
    title: { ja: "主治医意見書", en: "Physician opinions" },
    component: lazy(() => import("./opinions/OpinionsScreen")),
  },
  {
    id: "careinfo",
    path: "/careinfo",
    roles: ["medical_institution"],
    title: { ja: "介護情報の閲覧", en: "Care information" },
    component: lazy(() => import("./careinfo/CareInfoScreen")),
  },
  {
    id: "subsidies",
    path: "/subsidies",
    roles: ["care_office", "service_provider", "medical_institution"],
    title: { ja: "助成金", en: "Subsidies" },
    component: lazy(() => import("./subsidies/SubsidiesScreen")),
  },
  {
    id: "review",
    path: "/review",
    roles: ["operator"],
    title: { ja: "助成金の審査", en: "Subsidy review" },
    component: lazy(() => import("./review/ReviewScreen")),
  },
  {
    id: "mypage",
    path: "/mypage",
    roles: ["insured_person"],
    title: { ja: "わたしの情報", en: "My record" },
    component: lazy(() => import("./mypage/MyPageScreen")),
  },
  {
    id: "notifications",
    path: "/notifications",
    roles: ["insurer", "care_office"],
    title: { ja: "作成依頼届出", en: "Care-plan notifications" },
    component: lazy(() => import("./notifications/NotificationsScreen")),
  },
  {
    id: "users",
    path: "/users",
    roles: ["care_office", "service_provider", "medical_institution"],
    title: { ja: "利用者登録", en: "Registered users" },
    component: lazy(() => import("./users/UsersScreen")),
  },
];

/** The screen owning a path, with the rest of the path. */
export function screenFor(path: string): { screen: ScreenDef; subpath: string } | null {
  for (const screen of screens) {
    if (path === screen.path || path.startsWith(screen.path + "/")) {
      return { screen, subpath: path.slice(screen.path.length) };
    }
  }
  return null;
}
