import type { ComponentType } from "react";
import type { Role } from "../app/jwt";
import type { Session } from "../app/session";

/** What a screen component gets from the shell. */
export interface ScreenProps {
  session: Session;
  /** The path below the screen's own path ("" or "/<id>"), for detail pages. */
  subpath: string;
}

/** One entry of the menu; registered in screens/index.ts. */
export interface ScreenDef {
  /** Stable id: the folder name, and the screenshot name (web/screenshots/<id>.png). */
  id: string;
  /** Top-level path, e.g. "/eligibility"; sub-paths go to the same component. */
  path: string;
  /** Roles that see it in the menu and may open it. */
  roles: readonly Role[];
  /** Menu and page title. */
  title: { ja: string; en: string };
  component: ComponentType<ScreenProps>;
}
