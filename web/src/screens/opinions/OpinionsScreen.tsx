// 主治医意見書: the institution's requests and submitted opinions (/opinions), the form for one
// request (/opinions/requests/<id>) and one submitted version (/opinions/view/<id>). Paths
// carry ids only.
import type { ScreenProps } from "../types";
import { OpinionForm } from "./OpinionForm";
import { OpinionList } from "./OpinionList";
import { OpinionView } from "./OpinionView";

export default function OpinionsScreen({ subpath }: ScreenProps) {
  const [, kind, id] = subpath.split("/");
  if (kind === "requests" && id) return <OpinionForm key={id} requestId={decodeURIComponent(id)} />;
  if (kind === "view" && id) return <OpinionView key={id} opinionId={decodeURIComponent(id)} />;
  return <OpinionList />;
}
