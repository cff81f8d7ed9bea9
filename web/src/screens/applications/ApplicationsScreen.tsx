// 申請状況: the list (urgency order) and, under /applications/<id>, the live detail.
import type { ScreenProps } from "../types";
import { ApplicationDetail } from "./ApplicationDetail";
import { ApplicationList } from "./ApplicationList";

export default function ApplicationsScreen({ subpath, session }: ScreenProps) {
  const id = subpath.replace(/^\//, "");
  if (id) return <ApplicationDetail key={id} applicationId={decodeURIComponent(id)} role={session.claims.role} />;
  return <ApplicationList role={session.claims.role} />;
}
