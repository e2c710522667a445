// Typing: the request fields clusterSession adds. Session fields are typed the express-session way:
//   declare module 'express-session' { interface SessionData { cart: string[] } }
import 'express-session'

declare module 'express-session' {
  interface SessionData {}
}

declare global {
  namespace Express {
    interface Request {
      /** The id the request arrived with, set only when clusterSession rebound the session to this node. */
      sessionOriginalId?: string
    }
  }
}
