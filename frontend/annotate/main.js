// annotate page (placeholder until built).
import { ready } from "../shared/ui.js";

ready();
