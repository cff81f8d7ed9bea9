// One paged list (ListApplications, ListInbox, ListSent, ListOpinionRequests, …): the items
// loaded so far, the next page token, the total when the API gives one, whether a call is
// running and the problem of the last call. `PagedListStore` is the state machine (plain
// TypeScript, unit-tested); `usePagedList` binds it to a component.
import { useEffect, useState, useSyncExternalStore, type DependencyList } from "react";
import { toProblem, type ApiProblem } from "./errors";

/** One page as the list calls answer it, mapped to one shape. */
export interface Page<T> {
  items: T[];
  nextPageToken: string;
  totalSize?: number;
}

/** Fetches the page at `pageToken` ("" = the first page). */
export type PageFetcher<T> = (pageToken: string) => Promise<Page<T>>;

export interface PagedState<T> {
  /** null until the first page has arrived. */
  items: T[] | null;
  /** "" when there is no further page. */
  nextPageToken: string;
  /** The last page's totalSize (0 when the API does not give one). */
  total: number;
  busy: boolean;
  problem: ApiProblem | null;
}

export class PagedListStore<T> {
  private state: PagedState<T> = { items: null, nextPageToken: "", total: 0, busy: false, problem: null };
  private readonly listeners = new Set<() => void>();
  /** Bumped by every load and by cancel(): only the latest call's answer is kept. */
  private generation = 0;

  constructor(private fetchPage: PageFetcher<T>) {}

  setFetcher(fetchPage: PageFetcher<T>): void {
    this.fetchPage = fetchPage;
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): PagedState<T> => this.state;

  private set(patch: Partial<PagedState<T>>): void {
    this.state = { ...this.state, ...patch };
    this.listeners.forEach((l) => l());
  }

  /** Loads a page: "" replaces the items with the first page, a token appends its page. */
  load = async (pageToken: string): Promise<void> => {
    const gen = ++this.generation;
    this.set({ busy: true, problem: null });
    try {
      const page = await this.fetchPage(pageToken);
      if (gen !== this.generation) return;
      const prev = this.state.items;
      this.set({
        items: pageToken && prev ? [...prev, ...page.items] : page.items,
        nextPageToken: page.nextPageToken,
        total: page.totalSize ?? 0,
      });
    } catch (e) {
      if (gen === this.generation) this.set({ problem: toProblem(e) });
    } finally {
      if (gen === this.generation) this.set({ busy: false });
    }
  };

  /** The first page again, replacing what is shown. */
  refresh = (): Promise<void> => this.load("");

  /** The next page, appended (nothing when there is none). */
  more = (): Promise<void> => (this.state.nextPageToken ? this.load(this.state.nextPageToken) : Promise.resolve());

  /** Changes the loaded items in place (live arrivals, a row updated by an action). */
  setItems = (update: (prev: T[] | null) => T[] | null): void => {
    this.set({ items: update(this.state.items) });
  };

  /** The problem shown with the list (row actions report theirs here too). */
  setProblem = (problem: ApiProblem | null): void => {
    this.set({ problem });
  };

  /** Forgets the answer of a call still running (the component went away or its inputs changed). */
  cancel = (): void => {
    this.generation++;
  };
}

export interface PagedList<T> extends PagedState<T> {
  load: (pageToken: string) => Promise<void>;
  refresh: () => Promise<void>;
  more: () => Promise<void>;
  setItems: (update: (prev: T[] | null) => T[] | null) => void;
  setProblem: (problem: ApiProblem | null) => void;
}

/**
 * A paged list that loads its first page on mount and again whenever `deps` change (list the
 * values `fetchPage` reads: the client, filters). The answer of a superseded call is dropped.
 */
export function usePagedList<T>(fetchPage: PageFetcher<T>, deps: DependencyList): PagedList<T> {
  const [store] = useState(() => new PagedListStore<T>(fetchPage));
  useEffect(() => {
    store.setFetcher(fetchPage);
    void store.refresh();
    return store.cancel;
  }, deps); // the caller names what fetchPage reads
  const state = useSyncExternalStore(store.subscribe, store.getSnapshot);
  return {
    ...state,
    load: store.load,
    refresh: store.refresh,
    more: store.more,
    setItems: store.setItems,
    setProblem: store.setProblem,
  };
}
