export type NginxMode = 'round-robin' | 'sticky'
export declare const NGINX_MODES: NginxMode[]
export declare const DEFAULT_NGINX_VALUES: { listen: string; nodes: string[]; routes: string[] }
/** The template of `mode` with its placeholders replaced; throws on a missing value or a bad route. */
export declare function renderNginxConfig(mode: NginxMode, values?: { listen?: string; nodes?: string[]; routes?: string[] }): string
