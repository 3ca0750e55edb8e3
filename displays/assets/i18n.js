// Chinese by default, English on request; the choice is kept per browser.
const DICT = {
  zh: {
    app: '叫号系统', signIn: '登录', signOut: '退出', user: '用户名', password: '密码', hall: '大厅',
    wrongLogin: '用户名或密码错误', reconnecting: '正在重新连接…', live: '已连接', language: 'English',
    waiting: '等候', people: '人', estWait: '预计等候', minutes: '分钟', longest: '最长等候',
    latestCall: '请', toWindow: '号到', windowSuffix: '号窗口办理', recentCalls: '最近叫号',
    window: '窗口', ticket: '号码', zone: '区域', service: '事项', paused: '暂停服务', closed: '暂停服务',
    idle: '空闲', serving: '正在办理', called: '已叫号', enableSound: '点击启用声音',
    notice: '请在休息区等候，注意呼叫及大屏显示信息', noticeTitle: '温馨提示',
    issue: '取号', search: '搜索事项（支持拼音首字母）', priority: '优先类别', none: '无',
    issued: '已取号', ahead: '您前面还有 {n} 人在等待', print: '打印', lookup: '查询号码', cancel: '作废',
    checkIn: '预约签到', slotStart: '预约开始', slotEnd: '预约结束', kioskSettings: '设置', pin: '管理密码',
    callNext: '叫号', recall: '重呼', skip: '过号', start: '开始办理', finish: '办结', transfer: '转窗',
    hold: '挂起', callBack: '回呼', pause: '暂停', resume: '恢复服务', autoCall: '自动叫号', open: '签到', close: '签退',
    inHand: '当前号码', history: '经过', elapsed: '已用时', queue: '等候队列', shortcuts: '快捷键',
    reasons_lunch: '午休', reasons_break: '暂离', reasons_meeting: '开会', reasons_training: '培训',
    reasons_fault: '故障', reasons_other: '其他', toZone: '转到区域', toWindowN: '转到窗口',
    yourTicket: '您的号码', state_waiting: '等候中', state_called: '请前往窗口', state_serving: '正在办理',
    state_held: '已挂起', state_finished: '已办结', state_cancelled: '已作废', state_no_show: '已过号',
    state_expired: '已过期', goTo: '请到 {w} 号窗口', supervisor: '值班长', alerts: '预警',
    reactivate: '恢复过号', move: '调整', closeWindow: '关闭窗口', inService: '办理时长',
    servedToday: '今日办结', state: '状态', actions: '操作', done: '完成', refused: '操作被拒绝',
    err_window_busy: '该窗口手上还有号，请先办结或过号', err_window_paused: '窗口已暂停，请先恢复服务',
    err_window_closed: '窗口未签到', err_nothing_in_hand: '当前没有号码', err_queue_empty: '暂无等候的号码',
    err_wrong_state: '该号码当前状态不允许此操作', err_not_served_here: '本窗口不办理该号码的事项',
    err_recall_limit: '重呼次数已达上限', err_already_waiting: '该证件已有等候中的号码', err_zone_closed: '该区域当前不取号',
    err_forbidden: '无此操作权限', err_unauthenticated: '请重新登录', err_rate_limited: '操作过于频繁，请稍后再试',
    err_quota_exceeded: '今日手机取号次数已用完', err_already_rated: '该号码已评价', err_unknown_ticket: '没有这个号码',
    err_store_unavailable: '系统暂时无法保存，请稍后重试（未做任何更改）', err_already_acknowledged: '该预警已确认',
    err_no_such_alert: '该预警已解除',
    ratingsToday: '今日好差评', ratedShare: '评价率', badRatings: '差评', followUps: '核实 / 整改 / 回访',
    meanWaitHour: '近1小时平均等候', acknowledge: '确认', acknowledged: '已确认', noAlerts: '无预警',
    alert_long_wait: '等候超时', alert_long_queue: '排队过长', alert_long_service: '办理超时', alert_long_pause: '暂停过久', rateTitle: '请您对本次服务进行评价（好差评）', comment: '意见或建议（可选）', submit: '提交评价',
    thanks: '感谢您的评价', rated: '您的评价',
    rating_very_satisfied: '非常满意', rating_satisfied: '满意', rating_basic: '基本满意',
    rating_dissatisfied: '不满意', rating_very_dissatisfied: '非常不满意',
    report: '统计报表', from: '从', to: '至', query: '查询', downloadCsv: '下载 CSV', name: '名称',
    byHour: '各时段取号与办结', waitByHour: '各时段取号的等候时长（分钟）', arrivals: '取号', served: '办结',
    noShows: '过号', transfers: '转窗', meanWait: '平均等候', p90Wait: '90% 等候', meanService: '平均办理',
    p90Service: '90% 办理', walk: '到窗用时', idleWithQueue: '有人等候时空闲', pauseTime: '暂停时长',
    unfinished: '下班未办结', leftWaiting: '下班仍在等候', ratingRate: '评价率', staffMember: '工作人员',
    days: '天数', runningDay: '（当天仍在进行）', noData: '该时段无数据', reasons_signed_in: '签到未开始',
    openReport: '统计报表',
  },
  en: {
    app: 'Queue calling', signIn: 'Sign in', signOut: 'Sign out', user: 'User', password: 'Password', hall: 'Hall',
    wrongLogin: 'Wrong user name or password', reconnecting: 'Reconnecting…', live: 'Connected', language: '中文',
    waiting: 'Waiting', people: '', estWait: 'Est. wait', minutes: 'min', longest: 'Longest wait',
    latestCall: 'Ticket', toWindow: ' to window', windowSuffix: '', recentCalls: 'Recent calls',
    window: 'Window', ticket: 'Ticket', zone: 'Zone', service: 'Service', paused: 'Paused', closed: 'Closed',
    idle: 'Free', serving: 'Serving', called: 'Called', enableSound: 'Tap to enable sound',
    notice: 'Please wait in the seating area and watch the screens.', noticeTitle: 'Notice',
    issue: 'Take ticket', search: 'Search services (pinyin initials work)', priority: 'Priority', none: 'None',
    issued: 'Ticket issued', ahead: '{n} people ahead of you', print: 'Print', lookup: 'Look up', cancel: 'Cancel ticket',
    checkIn: 'Appointment check-in', slotStart: 'Slot start', slotEnd: 'Slot end', kioskSettings: 'Settings', pin: 'PIN',
    callNext: 'Call next', recall: 'Recall', skip: 'No-show', start: 'Start', finish: 'Finish', transfer: 'Transfer',
    hold: 'Hold', callBack: 'Call back', pause: 'Pause', resume: 'Resume', autoCall: 'Auto-call', open: 'Sign on', close: 'Sign off',
    inHand: 'In hand', history: 'History', elapsed: 'Elapsed', queue: 'Waiting', shortcuts: 'Shortcuts',
    reasons_lunch: 'Lunch', reasons_break: 'Break', reasons_meeting: 'Meeting', reasons_training: 'Training',
    reasons_fault: 'Fault', reasons_other: 'Other', toZone: 'To zone', toWindowN: 'To window',
    yourTicket: 'Your ticket', state_waiting: 'Waiting', state_called: 'Please go to the window', state_serving: 'Being served',
    state_held: 'On hold', state_finished: 'Done', state_cancelled: 'Cancelled', state_no_show: 'Missed',
    state_expired: 'Expired', goTo: 'Please go to window {w}', supervisor: 'Supervisor', alerts: 'Alerts',
    reactivate: 'Reactivate', move: 'Move', closeWindow: 'Close window', inService: 'In service',
    servedToday: 'Served today', state: 'State', actions: 'Actions', done: 'Done', refused: 'Refused',
    ratingsToday: 'Ratings today', ratedShare: 'Rated', badRatings: 'Bad ratings', followUps: 'Verified / rectified / called back',
    meanWaitHour: 'Mean wait, last hour', acknowledge: 'Acknowledge', acknowledged: 'Acknowledged', noAlerts: 'No alerts',
    alert_long_wait: 'Long wait', alert_long_queue: 'Long queue', alert_long_service: 'Long service', alert_long_pause: 'Long pause', rateTitle: 'How was the service?', comment: 'Comment (optional)', submit: 'Send',
    thanks: 'Thank you for your rating', rated: 'Your rating',
    rating_very_satisfied: 'Very satisfied', rating_satisfied: 'Satisfied', rating_basic: 'Fair',
    rating_dissatisfied: 'Dissatisfied', rating_very_dissatisfied: 'Very dissatisfied',
    report: 'Reports', from: 'From', to: 'To', query: 'Show', downloadCsv: 'Download CSV', name: 'Name',
    byHour: 'Arrivals and services by hour', waitByHour: 'Waits by hour of arrival (minutes)', arrivals: 'Arrivals', served: 'Served',
    noShows: 'No-shows', transfers: 'Transfers', meanWait: 'Mean wait', p90Wait: 'p90 wait', meanService: 'Mean service',
    p90Service: 'p90 service', walk: 'Walk-up', idleWithQueue: 'Idle while people waited', pauseTime: 'Paused',
    unfinished: 'Unfinished at close', leftWaiting: 'Left waiting', ratingRate: 'Rated', staffMember: 'Staff',
    days: 'Days', runningDay: '(still running)', noData: 'No data for these days', reasons_signed_in: 'Signed in, not started',
    openReport: 'Reports',
  },
};

export let lang = localStorage.getItem('hallcall.lang') === 'en' ? 'en' : 'zh';

export function t(key, vars = {}) {
  let s = DICT[lang][key] ?? DICT.zh[key] ?? key;
  for (const [k, v] of Object.entries(vars)) s = s.replace(`{${k}}`, v);
  return s;
}

/** A name in the page's language. */
export function named(o) {
  return (lang === 'en' && o?.name_en) ? o.name_en : (o?.name ?? '');
}

/** Fills every [data-i18n] element; wires [data-lang-toggle]. */
export function applyI18n(root = document) {
  document.documentElement.lang = lang === 'en' ? 'en' : 'zh-CN';
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-lang-toggle]')) {
    el.textContent = t('language');
    el.onclick = () => {
      localStorage.setItem('hallcall.lang', lang === 'en' ? 'zh' : 'en');
      location.reload();
    };
  }
}
