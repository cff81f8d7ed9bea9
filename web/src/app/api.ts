// One gRPC-Web transport to the gateway (same origin), with the session's Bearer token.
// An UNAUTHENTICATED answer ends the session, which sends the user back to sign-in.
import { Code, ConnectError, createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import type { DescService } from "@bufbuild/protobuf";
import { useMemo } from "react";
import { endSession, loadSession } from "./session";

const auth: Interceptor = (next) => async (req) => {
  const session = loadSession();
  if (!session) {
    endSession("expired");
    throw new ConnectError("session expired", Code.Unauthenticated);
  }
  req.header.set("authorization", `Bearer ${session.token}`);
  // The screens' language, not the browser's: explanations the API writes (a subsidy's
  // calculation lines) come back in it.
  req.header.set("accept-language", document.documentElement.lang === "en" ? "en" : "ja");
  try {
    return await next(req);
  } catch (e) {
    if (ConnectError.from(e).code === Code.Unauthenticated) endSession("expired");
    throw e;
  }
};

let transport: Transport | undefined;

export function gatewayTransport(): Transport {
  transport ??= createGrpcWebTransport({ baseUrl: location.origin, interceptors: [auth] });
  return transport;
}

/** A typed client of one of the services, for use in components. */
export function useClient<T extends DescService>(service: T): Client<T> {
  return useMemo(() => createClient(service, gatewayTransport()), [service]);
}
