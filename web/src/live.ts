// The app's one live connection to the server's /ws endpoint, shared by the
// shell (connection indicator, heartbeat) and the pages that follow events.

import { LiveSocket } from './ws';

export const live = new LiveSocket();
