// Language (ja default, en switchable). Each screen keeps its own messages file
// with the same keys in both languages; `useMessages` picks the active one.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";

export type Lang = "ja" | "en";

/** A screen's or the shell's messages: the English table must have the same keys. */
export type MessageTable<T extends Record<string, string>> = { ja: T; en: { [K in keyof T]: string } };

export function defineMessages<T extends Record<string, string>>(m: MessageTable<T>): MessageTable<T> {
  return m;
}

/** Replaces `{name}` placeholders. */
export function fmt(template: string, vars: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (whole, k: string) => (k in vars ? String(vars[k]) : whole));
}

// The language choice is a display preference, not personal data; it is kept in
// localStorage so that it survives a new tab. Nothing else is stored there.
const LANG_KEY = "kaigo.lang";

function initialLang(): Lang {
  try {
    const v = localStorage.getItem(LANG_KEY);
    if (v === "ja" || v === "en") return v;
  } catch {
    /* storage unavailable: default */
  }
  return "ja";
}

interface LangState {
  lang: Lang;
  setLang: (l: Lang) => void;
}

const LangContext = createContext<LangState>({ lang: "ja", setLang: () => {} });

export function LangProvider({ children }: { children: ReactNode }) {
  const [lang, setLangState] = useState<Lang>(initialLang);
  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);
  const setLang = useCallback((l: Lang) => {
    setLangState(l);
    try {
      localStorage.setItem(LANG_KEY, l);
    } catch {
      /* ignore */
    }
  }, []);
  const value = useMemo(() => ({ lang, setLang }), [lang, setLang]);
  return <LangContext.Provider value={value}>{children}</LangContext.Provider>;
}

export function useLang(): LangState {
  return useContext(LangContext);
}

export function useMessages<T extends Record<string, string>>(table: MessageTable<T>): T {
  const { lang } = useLang();
  return table[lang] as T;
}
