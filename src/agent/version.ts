/** The guest agent's version, reported in `hello`. Bump with any change to its behaviour. */
export const AGENT_VERSION = '0.1.0';
