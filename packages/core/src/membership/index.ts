export type { LeaveReason, MemberInfo, MemberState, Membership, MembershipEvents } from './membership.js'
export type { MembershipMessage } from './messages.js'
export { STATIC_MEMBERSHIP_DEFAULTS, staticMembership } from './static/static-membership.js'
export type { StaticMembershipInit } from './static/static-membership.js'
