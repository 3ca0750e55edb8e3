// Chinese by default, English on request; the choice is kept per browser.
const DICT = {
  zh: {
    pairCode: '配对码', pairHint: '请在值班长页面「设备配对」中输入此码', pairInstead: '用配对码登录（无键盘的屏幕）',
    signInWithPassword: '用密码登录', pinWrong: '管理密码错误', err_wrong_pin: '管理密码错误',
    err_unknown_pairing: '没有等待配对的设备使用此码，请核对屏幕上的配对码', err_not_a_device_account: '该账号不是设备账号',
    err_pairings_full: '等待配对的设备过多，请稍后再试',
    devices: '设备', pairDevice: '设备配对', pairAs: '账号', deviceName: '设备名称', pair: '配对', revoke: '注销',
    paired: '已配对', pairedAt: '配对时间', confirmRevoke: '确定注销设备“{n}”？它将立即退出登录。', cancelPhone: '作废等候中的手机取号', allZones: '全部区域', confirmCancelPhone: '作废“{where}”所有等候中的手机取号？', cancelledPhone: '已作废 {n} 张手机取号', noDevices: '暂无设备',
    role_display: '显示屏', role_kiosk: '自助机', role_evaluator: '评价器',
    admin: '系统管理', adminWindows: '窗口', adminAddWindow: '新增窗口', adminAccounts: '账号', adminAddAccount: '新增账号',
    adminNotice: '综合屏温馨提示', adminDays: '节假日与调休', adminDate: '日期', adminDayKind: '类型', adminClosedDay: '休息（不取号）',
    adminWorkingDay: '调休上班', adminAdd: '添加', adminCategories: '优先类别（绿色通道）', adminVoice: '叫号语音', voiceLang_zh: '普通话', voiceLang_en: '英语',
    voicePlay_browser: '综合屏播放', voicePlay_device: '服务器声卡播放', voiceZh: '普通话模板', voiceEn: '英语模板', voiceRepeat: '每次播报遍数',
    voiceGap: '片段间隔（毫秒）', voiceTwo: '窗口号 2 读作', voiceWithin: '断线恢复后补播多久内的叫号（秒）', adminOpen: '取号时段', adminWeekdays: '取号日',
    adminNoDay: '至少选择一天', day_mon: '周一', day_tue: '周二', day_wed: '周三', day_thu: '周四', day_fri: '周五', day_sat: '周六', day_sun: '周日', adminZones: '区域与事项', adminAddZone: '新增区域', adminPrefix: '号码前缀', adminServices: '事项', adminAddService: '添加事项',
    adminResults: '出件', adminServiceMinutes: '预计每件办理分钟数', adminServicesNone: '区域至少有一个事项', adminConfirmRemoveZone: '删除区域“{z}”？',
    adminRemovedZone: '删除区域 {z}', adminPolicy: '叫号规则', policyRatio: '优先:普通 叫号比例', policyMaxWait: '普通号最长等候（分钟，超过即优先）',
    policyRequeue: '过号后退后几位', policyMaxSkips: '过号几次作废', policyRecalls: '每号最多重呼次数', policyTransfer: '转移后排在',
    placement_front: '队首', placement_end: '队尾', policyWaitTarget: '等候目标（分钟，超过建议加开窗口）', policyMobileQuota: '每人每天手机取号上限',
    policyMobileWaiting: '每区域同时等候的手机号上限（0 不限）', policyEarly: '预约提前叫号（分钟）', policyGrace: '预约迟到宽限（分钟）',
    policyOnePerPerson: '同一事项每人只能有一个等候号', policyOpenPaused: '窗口签到后先暂停', policyFinishFromCalled: '叫号后可直接办结（不记开始办理）', adminNoDays: '未设置：按各区域的工作日取号', adminDocument: '完整配置（TOML）',
    adminDocumentHint: '区域、事项、优先类别、规则、预警、语音等在此修改，与配置文件写法相同；保存前会逐项校验，有误时指出行号。',
    adminReason: '修改原因', adminHistory: '配置版本', adminDevicesHint: '显示屏、自助机、评价器的配对与注销在', supervisorBoard: '值班长页面',
    adminVersion: '第 {n} 版', adminVersionCol: '版本', adminWhen: '时间', adminBy: '修改人', adminCompare: '对比上一版', adminRestore: '恢复此版',
    adminSaved: '已保存，现为第 {n} 版', adminEdit: '修改', adminRemove: '删除', adminServes: '办理业务（按优先顺序）',
    adminServesHint: '按顺序叫号：先叫排在前面的区域或事项', adminAddServe: '添加一项', adminServesNone: '窗口至少办理一项业务',
    adminWholeZone: '全部事项', adminResultsOnly: '仅出件', adminUp: '上移', adminDown: '下移', adminRole: '角色', adminWindowsOf: '窗口号',
    adminCard: '姓名（工号）', adminStaffNumber: '工号', adminPhoto: '照片地址', adminPasswordKeep: '不修改请留空', adminBadWindows: '窗口号请填数字，用逗号分隔',
    adminConfirmRemoveWindow: '删除 {n} 号窗口？', adminRemovedWindow: '删除 {n} 号窗口', adminConfirmRemoveAccount: '删除账号“{u}”？', adminRemovedAccount: '删除账号 {u}',
    adminConfirmRestore: '恢复到第 {n} 版？将保存为新的一版。', adminRestoredFrom: '恢复第 {n} 版', adminDiffOf: '第 {a} 版 → 第 {b} 版', adminNoChange: '内容相同',
    role_admin: '管理员', role_supervisor: '值班长', role_guide: '引导台', role_window: '窗口',
    app: '叫号系统', signIn: '登录', signOut: '退出', user: '用户名', password: '密码', hall: '大厅',
    wrongLogin: '用户名或密码错误', reconnecting: '正在重新连接…', live: '已连接', language: 'English',
    waiting: '等候', people: '人', estWait: '预计等候', minutes: '分钟', noWindowOpen: '暂无窗口办理', longest: '最长等候',
    latestCall: '请', toWindow: '号到', windowSuffix: '号窗口办理', recentCalls: '最近叫号',
    window: '窗口', ticket: '号码', zone: '区域', service: '事项', paused: '暂停服务', closed: '未签到',
    idle: '空闲', serving: '正在办理', called: '已叫号', enableSound: '点击启用声音',
    notice: '请在休息区等候，注意呼叫及大屏显示信息', noticeTitle: '温馨提示',
    issue: '取号', search: '搜索事项（支持拼音首字母）', priority: '优先类别', none: '无',
    notifyAsk: '短信提醒：快到我时发短信通知我', notifyPhone: '手机号', notifyTerms: '号码只用于今天的叫号提醒，加密保存，今天结束即删除。勾选即表示同意。', notifyWhen: '前面剩 {n} 人及叫到我时',
    printedOk: '已在打印机 {p} 打印', printed_paper_out: '打印机 {p} 缺纸：请换纸后重新打印', printed_offline: '打印机 {p} 故障或开盖：处理后重新打印', printed_unreachable: '连不上打印机 {p}：请检查电源和网线后重新打印', reprint: '重新打印', browserPrint: '用本机打印',
    err_consent_required: '需要勾选同意才能短信提醒', err_bad_phone: '手机号不对：请输入11位手机号', err_bad_openid: '微信身份无效', err_notices_off: '本大厅暂不提供短信提醒', err_no_printer: '本台未连接取号打印机：请用本机打印',
    outboxTitle: '对外推送', outboxAside: '多次失败、已暂停的消息', outboxResendAll: '全部重发', outboxResend: '重发', outboxDelivered: '已送达 {n} 条', outboxFailing: '最近一次失败：{error}', outboxResent: '已重新排队 {n} 条', outboxWebhook: '接口推送', outboxSink_platform: '政务服务平台', outboxSink_sms: '短信', outboxSink_wechat: '微信服务通知', 'outboxSink_notice-webhook': '提醒网关',
    issued: '已取号', ahead: '您前面还有 {n} 人在等待', print: '打印', lookup: '查询号码', cancel: '作废', confirmCancel: '确定作废 {n} 号？作废后不能恢复。',
    checkIn: '预约签到', slotStart: '预约开始', slotEnd: '预约结束', kioskSettings: '设置', pin: '管理密码',
    callNext: '叫号', recall: '重呼', skip: '过号', start: '开始办理', finish: '办结', transfer: '转窗',
    hold: '挂起', callBack: '回呼', pause: '暂停', resume: '恢复服务', autoCall: '自动叫号', open: '签到', close: '签退',
    inHand: '当前号码', history: '经过', elapsed: '已用时', queue: '等候队列', shortcuts: '快捷键',
    // Window console (窗口端).
    startService: '开始服务', dismiss: '取消', isOn: '已开', autoCallOn: '自动叫号（已开）', category: '类别', channel: '取号方式', note: '备注',
    serviceInZone: '{service}（{zone}）', listSep: '，', lane_normal: '普通', ownQueue: '转给本窗口', waitingN: '等候 {n} 人', nobodyWaiting: '无人等候',
    channel_guide_desk: '现场取号', channel_kiosk: '自助机', channel_mobile: '手机取号', channel_appointment_check_in: '预约签到',
    recallsN: '已重呼 {n} 次', skipsN: '已过号 {n} 次', transfersN: '转过 {n} 次',
    step_issued: '取号', step_called: '叫号', step_recalled: '重呼', step_skipped: '过号', step_no_show: '过号（未到，不再排队）',
    step_started: '开始办理', step_finished: '办结', step_transferred: '转窗', step_held: '挂起', step_cancelled: '作废', step_reactivated: '恢复排队',
    stepAtWindow: '{step}（{n}号窗口）', stepFromWindow: '{step}（由{n}号窗口转出）', noHistory: '叫号后这里显示该号码的经过',
    heldList: '挂起的号码', noneHeld: '没有挂起的号码', heldAt: '{time} 挂起', callBackAsk: '请输入要回呼的挂起号码',
    groupFlow: '叫号办理', groupMore: '其他', groupWindow: '窗口',
    closeAsk: '确定签退？', closeAskText: '签退后本窗口不再叫号，窗口屏显示“未签到”。',
    connectionLost: '与服务器的连接已断开，正在自动重新连接…', connectionLostHint: '页面上的号码和状态可能不是最新的，操作可能失败。连接恢复后会自动更新，无需刷新；长时间未恢复请检查网络或联系管理员。',
    failed: '操作未完成', sayFailed: '{what}：{why}。{hint}', notNowHint: '现在不能「{a}」。{hint}',
    next_loading: '正在读取窗口状态…', next_closed: '本窗口未签到：点「签到」开始今天的工作',
    next_signed_in: '已签到：准备好后点「开始服务」，然后即可叫号', next_paused: '暂停中：回来后点「恢复服务」继续叫号',
    next_free: '空闲：点「叫号」呼叫下一位', next_free_auto: '自动叫号已开：有人等候时会自动叫到本窗口',
    next_called: '已叫号：群众到窗后点「开始办理」；没到可「重呼」，久等不到点「过号」',
    next_called_finish: '已叫号：群众到窗即可办理，办完点「办结」；没到可「重呼」，久等不到点「过号」', next_serving: '正在办理：办完点「办结」',
    hint_queue_empty: '现在没有人等候，请稍后再叫号，或打开「自动叫号」', hint_window_busy: '请先处理手上的号码：办结、过号、挂起或转窗',
    hint_window_paused: '请先点「恢复服务」', hint_window_closed: '请先点「签到」', hint_nothing_in_hand: '请先点「叫号」',
    hint_window_already_open: '本窗口已签到，页面已按最新状态更新', hint_window_not_paused: '本窗口没有暂停，页面已按最新状态更新',
    hint_wrong_state: '页面已按最新状态更新，请按亮起的按钮操作', hint_recall_limit: '群众没到可点「过号」；已到窗口请点「开始办理」',
    hint_not_served_here: '请核对号码；需要本窗口办理的，请值班长把号码转到本窗口', hint_unknown_ticket: '请核对号码（例如 A023）后再试',
    hint_bad_ticket: '请核对号码（例如 A023）后再试', hint_same_queue: '请选择其他区域或窗口',
    hint_network: '请检查网络后再点一次（不会重复操作）；长时间不能恢复请联系管理员', hint_store_unavailable: '请稍等片刻再点一次；仍不行请联系值班长',
    hint_forbidden: '请用本窗口的账号登录', hint_rate_limited: '请稍等几秒再点', hint_other: '请刷新页面后再试；仍不行请联系值班长',
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
    err_forbidden: '无此操作权限', err_unauthenticated: '请重新登录', err_rate_limited: '操作过于频繁，请稍后再试', err_bad_text: '文字中含有不可见或控制字符，请删去后重试', err_store_slow: '数据保存较慢，操作可能已保存：请稍候刷新确认后再试', err_phone_tickets_full: '该区域手机取号已满，请到大厅取号', err_account_locked: '密码错误次数过多，该账号暂时锁定，请稍后再试', err_busy: '登录的人太多，请稍后再试', err_directory_unavailable: '统一身份认证（目录服务）暂时连不上，目录账号无法登录，请稍后再试；本地账号仍可登录', err_no_role: '目录中有此账号，但所在用户组在本大厅没有角色，请联系管理员', err_body_timeout: '网络太慢，请求没有完整送达，请重试',
    err_quota_exceeded: '今日手机取号次数已用完', err_already_rated: '该号码已评价', err_unknown_ticket: '没有这个号码',
    err_store_unavailable: '系统暂时无法保存，请稍后重试（未做任何更改）', err_already_acknowledged: '该预警已确认',
    evStaffNo: '工号', evWelcome: '您好，请问办理什么业务？', evWhy: '请选择不满意的原因（可多选）',
    evReasonAttitude: '服务态度不好', evReasonSlow: '办事效率低', evReasonWait: '等候时间长', evReasonUnclear: '告知不清楚',
    evReasonRules: '办事流程复杂', evReasonOther: '其他', err_not_rateable_here: '该号码不是刚在本窗口办结的，无法评价',
    err_no_such_alert: '该预警已解除', opensAt: '，{t} 开始取号', err_network: '网络连接中断，请检查网络后重试',
    err_config_refused: '这项配置修改现在不能生效（原因见说明）', err_config_invalid: '配置有误，未保存', err_unknown_version: '没有这个配置版本', err_version_gone: '这个版本太早，已不再保存', err_bad_device: '设备名称或编号无效', err_bad_outbox: '没有这条待重发的消息（可能已重发）', err_no_platform: '本大厅未配置政务服务平台对接', err_unknown_device: '没有这个设备（可能已注销）', err_too_many_devices: '设备数量已达上限，请先注销不用的设备',
    err_idempotency_key_reused: '请求重复且内容不同，请刷新页面后重试', err_bad_idempotency_key: '请求无效，请刷新页面后重试',
    ratingsToday: '今日好差评', ratedShare: '评价率', badRatings: '差评', followUps: '核实 / 整改 / 回访',
    meanWaitHour: '近1小时平均等候', acknowledge: '确认', acknowledged: '已确认', noAlerts: '无预警',
    alert_long_wait: '等候超时', alert_long_queue: '排队过长', alert_long_service: '办理超时', alert_long_pause: '暂停过久', rateTitle: '请您对本次服务进行评价（好差评）', comment: '意见或建议（可选）', submit: '提交评价',
    thanks: '感谢您的评价', rated: '您的评价', colon: '：',
    rating_very_satisfied: '非常满意', rating_satisfied: '满意', rating_basic: '基本满意',
    rating_dissatisfied: '不满意', rating_very_dissatisfied: '非常不满意',
    report: '统计报表', from: '从', to: '至', query: '查询', downloadCsv: '下载 CSV', name: '名称',
    byHour: '各时段取号与办结', waitByHour: '各时段取号的等候时长（分钟）', arrivals: '取号', served: '办结',
    skips: '过号', noShows: '未到（弃号）', transfers: '转窗', meanWait: '平均等候', p90Wait: '90% 等候', meanService: '平均办理',
    p90Service: '90% 办理', walk: '到窗用时', idleWithQueue: '有人等候时空闲', pauseTime: '暂停时长',
    unfinished: '下班未办结', leftWaiting: '下班仍在等候', ratingRate: '评价率', staffMember: '工作人员',
    days: '天数', runningDay: '（当天仍在进行）', noData: '该时段无数据', reasons_signed_in: '签到未开始',
    openReport: '统计报表',
    auditLog: '操作审计', auditDay: '日期', auditTime: '时间', auditAction: '操作', auditWho: '账号', auditAddress: '地址',
    auditTarget: '对象', auditCount: '次数', auditNone: '当天无记录',
    audit_signed_in: '登录', audit_sign_in_refused: '登录失败', audit_signed_out: '退出登录', audit_account_signed_out: '强制退出账号',
    audit_device_paired: '设备登录', audit_device_revoked: '注销设备', audit_ticket_cancelled: '作废号码',
    audit_ticket_reactivated: '恢复号码', audit_ticket_moved: '调号', audit_phone_tickets_cancelled: '批量作废手机取号',
    audit_window_closed: '关闭窗口',
    // Supervisor board (值班长): window tiles, zone chart, bad ratings.
    zoneWaits: '各区域等候（分钟）', zoneDetails: '区域明细', openWindows: '开放窗口', tileHint: '点击窗口查看详情',
    pausedFor: '已 {t}', since: '自', dayMeanWait: '今日平均', longestNow: '当前最长等候', inMinutes: '单位：分钟',
    badList: '差评处理', noBadRatings: '今日暂无差评', noComment: '（未留言）', badCount: '共 {n} 条，{open} 条未办完',
    fu_verified: '核实', fu_rectified: '整改', fu_called_back: '回访', fuAsk: '{step}情况（必填）', save: '保存',
    badMissing: '另有 {n} 条差评在本页打开前给出，未在此列出。', badWhere: '所在窗口：', badAtWindow: '{w}号窗口 {n} 条', lookupBad: '按号码查看',
    // Hall and window displays (综合屏, 窗口屏).
    callSentence: '请 {ticket} 号到 {window} 号窗口办理', nowCalling: '正在呼叫', windowsNow: '各窗口当前号码',
    waitingByZone: '各区域等候人数', adviceTitle: '潮汐窗口建议', archiveTitle: '历史归档', archiveUpToDate: '已全部归档至数据库', archiveBehind: '归档中：尚有 {n} 条记录待写入', archiveDown: '数据库连接中断，{n} 条记录待归档（恢复后自动补写）：{error}', adviceServeFirst: '{zone}预计等候 {before}：让 {w} 号窗口优先办理，约 {after}', adviceOpen: '{zone}预计等候 {before}：派人开启 {w} 号窗口优先办理，约 {after}', adviceRestore: '{zone}已不拥挤（约 {now}）：{w} 号窗口恢复原办理顺序', adviceAccept: '采纳', adviceTaken: '已调整窗口', adviceNone: '各区域预计等候均在{target}以内', aboutMinutes: '约{n}分钟', windowN: '{n}号窗口',
    lane_priority: '绿色通道', lane_appointment: '预约', notSignedIn: '未签到', pausedShort: '暂停',
    resumesAt: '{time} 恢复服务', pauseReasonLabel: '暂停原因', pauseForLabel: '预计多久恢复', pauseForUnsaid: '暂不确定', pauseMinutes: '{n} 分钟', calledHere: '请到本窗口办理', waitingHere: '本窗口等候 {n} 人',
    err_already_booked: "此人当天已有预约", err_bad_appointment: "预约时段无效或已过", err_booking_closed: "该预约已签到、已取消或已过期", err_booking_taken: "该预约码已被使用", err_follow_up_done: "该回访步骤已记录", err_inconsistent: "系统内部错误，请联系管理员", err_no_bad_rating: "该号码没有需要回访的差评", err_not_booking_day: "该预约不是今天的", err_number_taken: "该号码今天已发出", err_same_queue: "该号码已在此队列中", err_too_long: "内容过长", err_unknown_booking: "没有这个预约码", err_unknown_category: "没有这个优先类别", err_unknown_service: "该区域没有这个事项", err_unknown_window: "没有这个窗口", err_unknown_zone: "没有这个区域", err_unknown_hall: "没有这个大厅", err_window_already_open: "窗口已签到", err_window_not_paused: "窗口未暂停", err_bad_pause: "暂停时长须在 1 到 480 分钟之间", err_bad_code: "预约码格式不对（4 到 23 位字母或数字）", err_bad_date: "日期格式不对", err_bad_range: "结束日期早于开始日期", err_range_too_long: "查询范围过长（最多 366 天）", err_bad_id_number: "证件号码格式不对", err_bad_query: "请求参数有误", err_bad_path: "地址有误", err_bad_body: "请求内容有误", err_malformed_json: "请求内容有误", err_invalid_body: "请求内容有误", err_content_type: "请求内容有误", err_body_too_large: "请求内容过大", err_unknown_action: "没有这个操作", err_internal: "系统内部错误，请稍后重试", err_corrupt_store: "存储数据损坏，请联系管理员", err_bad_ticket: "号码格式不对", checkInByCode: "预约签到", bookingCode: "预约码", checkInBySlot: "无预约码时：按预约时段签到",
  },
  en: {
    admin: 'Administration', adminWindows: 'Windows', adminAddWindow: 'Add a window', adminAccounts: 'Accounts', adminAddAccount: 'Add an account',
    adminNotice: 'Hall display notice', adminDays: 'Holidays and swapped working days', adminDate: 'Date', adminDayKind: 'Kind', adminClosedDay: 'Closed (no tickets)',
    adminWorkingDay: 'Working day', adminAdd: 'Add', adminCategories: 'Priority categories (green channel)', adminVoice: 'Announcements', voiceLang_zh: 'Mandarin', voiceLang_en: 'English',
    voicePlay_browser: 'on the hall display', voicePlay_device: 'on the server\'s sound card', voiceZh: 'Mandarin template', voiceEn: 'English template', voiceRepeat: 'Times each call is said',
    voiceGap: 'Gap between clips (ms)', voiceTwo: 'Window 2 read as', voiceWithin: 'After a dropout, say calls up to (seconds) old', adminOpen: 'Ticket hours', adminWeekdays: 'Days it issues tickets',
    adminNoDay: 'Choose at least one day', day_mon: 'Mon', day_tue: 'Tue', day_wed: 'Wed', day_thu: 'Thu', day_fri: 'Fri', day_sat: 'Sat', day_sun: 'Sun', adminZones: 'Zones and services', adminAddZone: 'Add a zone', adminPrefix: 'Prefix', adminServices: 'Services', adminAddService: 'Add a service',
    adminResults: 'results', adminServiceMinutes: 'Expected minutes per service', adminServicesNone: 'A zone has at least one service', adminConfirmRemoveZone: 'Remove the zone “{z}”?',
    adminRemovedZone: 'Zone {z} removed', adminPolicy: 'Calling rules', policyRatio: 'Priority:normal calls', policyMaxWait: 'Longest normal wait (minutes, then it goes first)',
    policyRequeue: 'Places back after a skip', policyMaxSkips: 'Skips before a no-show', policyRecalls: 'Recalls per call', policyTransfer: 'A transfer joins at the',
    placement_front: 'front', placement_end: 'end', policyWaitTarget: 'Wait target (minutes, then open a window)', policyMobileQuota: 'Phone tickets per person per day',
    policyMobileWaiting: 'Phone tickets waiting per zone (0: no cap)', policyEarly: 'Appointments called early (minutes)', policyGrace: 'Appointment grace (minutes)',
    policyOnePerPerson: 'One waiting ticket per person and service', policyOpenPaused: 'Windows start paused', policyFinishFromCalled: 'Finish straight from called', adminNoDays: 'None: each zone issues on its own weekdays', adminDocument: 'Whole configuration (TOML)',
    adminDocumentHint: 'Zones, services, priority categories, rules, alerts and voice are changed here, written as in the configuration file; it is checked before it is saved, with line numbers for any mistake.',
    adminReason: 'Reason', adminHistory: 'Configuration versions', adminDevicesHint: 'Displays, kiosks and evaluators are paired and revoked on the', supervisorBoard: 'supervisor board',
    adminVersion: 'version {n}', adminVersionCol: 'Version', adminWhen: 'When', adminBy: 'By', adminCompare: 'Compare with the one before', adminRestore: 'Go back to this one',
    adminSaved: 'Saved: now version {n}', adminEdit: 'Edit', adminRemove: 'Remove', adminServes: 'Serves (in order of preference)',
    adminServesHint: 'Calls in this order: the first zone or service with someone waiting', adminAddServe: 'Add one', adminServesNone: 'A window serves at least one thing',
    adminWholeZone: 'every service', adminResultsOnly: 'results only', adminUp: 'Up', adminDown: 'Down', adminRole: 'Role', adminWindowsOf: 'Windows',
    adminCard: 'Name (staff no.)', adminStaffNumber: 'Staff number', adminPhoto: 'Photo address', adminPasswordKeep: 'leave empty to keep it', adminBadWindows: 'Window numbers, separated by commas',
    adminConfirmRemoveWindow: 'Remove window {n}?', adminRemovedWindow: 'Window {n} removed', adminConfirmRemoveAccount: 'Remove the account “{u}”?', adminRemovedAccount: 'Account {u} removed',
    adminConfirmRestore: 'Go back to version {n}? It is saved as a new version.', adminRestoredFrom: 'Back to version {n}', adminDiffOf: 'version {a} → version {b}', adminNoChange: 'No difference',
    role_admin: 'Administrator', role_supervisor: 'Supervisor', role_guide: 'Guide desk', role_window: 'Window',
    pairCode: 'Pairing code', pairHint: 'Enter this code on the supervisor board under “Pair a device”', pairInstead: 'Sign in with a pairing code (screens without a keyboard)',
    signInWithPassword: 'Sign in with a password', pinWrong: 'Wrong PIN',
    devices: 'Devices', pairDevice: 'Pair a device', pairAs: 'Account', deviceName: 'Device name', pair: 'Pair', revoke: 'Sign out',
    paired: 'Paired', pairedAt: 'Paired at', confirmRevoke: 'Sign device “{n}” out? It is signed out at once.', cancelPhone: 'Cancel waiting phone tickets', allZones: 'All zones', confirmCancelPhone: 'Cancel every phone ticket waiting in “{where}”?', cancelledPhone: '{n} phone tickets cancelled', noDevices: 'No devices',
    role_display: 'Screen', role_kiosk: 'Kiosk', role_evaluator: 'Evaluator',
    app: 'Queue calling', signIn: 'Sign in', signOut: 'Sign out', user: 'User', password: 'Password', hall: 'Hall',
    wrongLogin: 'Wrong user name or password', reconnecting: 'Reconnecting…', live: 'Connected', language: '中文',
    waiting: 'Waiting', people: '', estWait: 'Est. wait', minutes: 'min', noWindowOpen: 'No window open', longest: 'Longest wait',
    latestCall: 'Ticket', toWindow: ' to window', windowSuffix: '', recentCalls: 'Recent calls',
    window: 'Window', ticket: 'Ticket', zone: 'Zone', service: 'Service', paused: 'Paused', closed: 'Closed',
    idle: 'Free', serving: 'Serving', called: 'Called', enableSound: 'Tap to enable sound',
    notice: 'Please wait in the seating area and watch the screens.', noticeTitle: 'Notice',
    issue: 'Take ticket', search: 'Search services (pinyin initials work)', priority: 'Priority', none: 'None',
    notifyAsk: 'Text me when my turn is near', notifyPhone: 'Mobile number', notifyTerms: 'Your number is used only for today\'s reminders, kept encrypted and erased when the day ends. Ticking the box means you agree.', notifyWhen: 'when {n} are left ahead, and when called',
    printedOk: 'Printed on {p}', printed_paper_out: 'Printer {p} is out of paper: change the roll and print again', printed_offline: 'Printer {p} has a fault or its cover is open: fix it and print again', printed_unreachable: 'Printer {p} cannot be reached: check its power and cable, then print again', reprint: 'Print again', browserPrint: 'Print here',
    err_consent_required: 'Tick the box to agree before asking for texts', err_bad_phone: 'Not a mobile number: enter its 11 digits', err_bad_openid: 'Invalid WeChat identity', err_notices_off: 'This hall sends no text reminders', err_no_printer: 'This desk has no ticket printer: print here',
    outboxTitle: 'Messages out', outboxAside: 'Set aside after failing', outboxResendAll: 'Send all again', outboxResend: 'Send again', outboxDelivered: '{n} delivered', outboxFailing: 'last failure: {error}', outboxResent: '{n} queued again', outboxWebhook: 'Webhook', outboxSink_platform: 'Government platform', outboxSink_sms: 'Texts', outboxSink_wechat: 'WeChat', 'outboxSink_notice-webhook': 'Notice gateway',
    issued: 'Ticket issued', ahead: '{n} people ahead of you', print: 'Print', lookup: 'Look up', cancel: 'Cancel ticket', confirmCancel: 'Cancel ticket {n}? This cannot be undone.',
    checkIn: 'Appointment check-in', slotStart: 'Slot start', slotEnd: 'Slot end', kioskSettings: 'Settings', pin: 'PIN',
    callNext: 'Call next', recall: 'Recall', skip: 'No-show', start: 'Start', finish: 'Finish', transfer: 'Transfer',
    hold: 'Hold', callBack: 'Call back', pause: 'Pause', resume: 'Resume', autoCall: 'Auto-call', open: 'Sign on', close: 'Sign off',
    inHand: 'In hand', history: 'History', elapsed: 'Elapsed', queue: 'Waiting', shortcuts: 'Shortcuts',
    // Window console.
    startService: 'Start service', dismiss: 'Cancel', isOn: 'on', autoCallOn: 'Auto-call (on)', category: 'Category', channel: 'Taken at', note: 'Note',
    serviceInZone: '{service} ({zone})', listSep: ', ', lane_normal: 'Normal', ownQueue: 'Sent to this window', waitingN: '{n} waiting', nobodyWaiting: 'Nobody waiting',
    channel_guide_desk: 'Guide desk', channel_kiosk: 'Kiosk', channel_mobile: 'Phone', channel_appointment_check_in: 'Appointment check-in',
    recallsN: 'recalled {n}×', skipsN: 'skipped {n}×', transfersN: 'transferred {n}×',
    step_issued: 'Issued', step_called: 'Called', step_recalled: 'Recalled', step_skipped: 'Skipped', step_no_show: 'No-show (out of the queue)',
    step_started: 'Service started', step_finished: 'Finished', step_transferred: 'Transferred', step_held: 'Held', step_cancelled: 'Cancelled', step_reactivated: 'Back in the queue',
    stepAtWindow: '{step} (window {n})', stepFromWindow: '{step} (from window {n})', noHistory: 'A called ticket\'s history shows here',
    heldList: 'On hold', noneHeld: 'No ticket on hold', heldAt: 'held at {time}', callBackAsk: 'The held ticket to call back',
    groupFlow: 'Call', groupMore: 'More', groupWindow: 'Window',
    closeAsk: 'Sign off?', closeAskText: 'The window stops calling and its screen shows it closed.',
    connectionLost: 'Connection to the server lost: reconnecting…', connectionLostHint: 'What this page shows may be out of date and actions may fail. It updates by itself once reconnected; if it lasts, check the network or call the administrator.',
    failed: 'Not done', sayFailed: '{what}: {why}. {hint}', notNowHint: '“{a}” is not possible now. {hint}',
    next_loading: 'Reading the window…', next_closed: 'The window is not signed on: press Sign on to start',
    next_signed_in: 'Signed on: press Start service when ready, then call', next_paused: 'Paused: press Resume to call again',
    next_free: 'Free: press Call next', next_free_auto: 'Auto-call is on: the next ticket comes by itself',
    next_called: 'Called: press Start when the citizen arrives; Recall, or No-show if nobody comes',
    next_called_finish: 'Called: serve the citizen when they arrive and press Finish when done; Recall, or No-show if nobody comes', next_serving: 'Serving: press Finish when done',
    hint_queue_empty: 'Nobody is waiting: call again later, or turn Auto-call on', hint_window_busy: 'Deal with the ticket in hand first: finish, skip, hold or transfer it',
    hint_window_paused: 'Press Resume first', hint_window_closed: 'Press Sign on first', hint_nothing_in_hand: 'Press Call next first',
    hint_window_already_open: 'The window is signed on: the page now shows how things stand', hint_window_not_paused: 'The window is not paused: the page now shows how things stand',
    hint_wrong_state: 'The page now shows how things stand: use the buttons that are lit', hint_recall_limit: 'Press No-show if nobody came, or Start if they are here',
    hint_not_served_here: 'Check the number; a supervisor can send the ticket to this window', hint_unknown_ticket: 'Check the number (like A023) and try again',
    hint_bad_ticket: 'Check the number (like A023) and try again', hint_same_queue: 'Choose another zone or window',
    hint_network: 'Check the network and press again (it is never done twice); call the administrator if it lasts', hint_store_unavailable: 'Wait a moment and press again; call the supervisor if it goes on',
    hint_forbidden: 'Sign in with this window\'s account', hint_rate_limited: 'Wait a few seconds and press again', hint_other: 'Reload the page and try again; call the supervisor if it goes on',
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
    thanks: 'Thank you for your rating', rated: 'Your rating', colon: ': ',
    rating_very_satisfied: 'Very satisfied', rating_satisfied: 'Satisfied', rating_basic: 'Fair',
    rating_dissatisfied: 'Dissatisfied', rating_very_dissatisfied: 'Very dissatisfied',
    report: 'Reports', from: 'From', to: 'To', query: 'Show', downloadCsv: 'Download CSV', name: 'Name',
    byHour: 'Arrivals and services by hour', waitByHour: 'Waits by hour of arrival (minutes)', arrivals: 'Arrivals', served: 'Served',
    skips: 'Skipped (called, absent)', noShows: 'No-shows (skipped for good)', transfers: 'Transfers', meanWait: 'Mean wait', p90Wait: 'p90 wait', meanService: 'Mean service',
    p90Service: 'p90 service', walk: 'Walk-up', idleWithQueue: 'Idle while people waited', pauseTime: 'Paused',
    unfinished: 'Unfinished at close', leftWaiting: 'Left waiting', ratingRate: 'Rated', staffMember: 'Staff',
    days: 'Days', runningDay: '(still running)', noData: 'No data for these days', reasons_signed_in: 'Signed in, not started',
    openReport: 'Reports',
    auditLog: 'Audit log', auditDay: 'Day', auditTime: 'Time', auditAction: 'Action', auditWho: 'Account', auditAddress: 'Address',
    auditTarget: 'On', auditCount: 'Times', auditNone: 'Nothing recorded that day',
    audit_signed_in: 'Signed in', audit_sign_in_refused: 'Sign-in refused', audit_signed_out: 'Signed out', audit_account_signed_out: 'Account signed out',
    audit_device_paired: 'Device signed in', audit_device_revoked: 'Device revoked', audit_ticket_cancelled: 'Ticket cancelled',
    audit_ticket_reactivated: 'Ticket reactivated', audit_ticket_moved: 'Ticket moved', audit_phone_tickets_cancelled: 'Phone tickets cancelled',
    audit_window_closed: 'Window closed',
    // Supervisor board: window tiles, zone chart, bad ratings.
    zoneWaits: 'Waits by zone (min)', zoneDetails: 'Zone figures', openWindows: 'Open windows', tileHint: 'Click a window for its details',
    pausedFor: 'for {t}', since: 'since', dayMeanWait: 'Mean today', longestNow: 'Longest now', inMinutes: 'in minutes',
    badList: 'Bad ratings', noBadRatings: 'No bad rating today', noComment: '(no comment)', badCount: '{n} in all, {open} open',
    fu_verified: 'Verify', fu_rectified: 'Rectify', fu_called_back: 'Call back', fuAsk: '{step}: what was done (required)', save: 'Save',
    badMissing: '{n} more bad ratings were given before this page was opened and are not listed.', badWhere: 'At ', badAtWindow: 'window {w}: {n}', lookupBad: 'Look up',
    // Hall and window displays.
    callSentence: 'Ticket {ticket} to window {window}', nowCalling: 'Now calling', windowsNow: 'Now serving',
    waitingByZone: 'Waiting by zone', adviceTitle: 'Window advice', archiveTitle: 'History archive', archiveUpToDate: 'Everything is archived', archiveBehind: 'Archiving: {n} events to write', archiveDown: 'Archive database unreachable; {n} events wait and will be written when it returns: {error}', adviceServeFirst: '{zone}: {before} expected; let window {w} take it first: about {after}', adviceOpen: '{zone}: {before} expected; staff window {w} to take it first: about {after}', adviceRestore: '{zone} is short again (about {now}): window {w} back to its own order', adviceAccept: 'Accept', adviceTaken: 'Window changed', adviceNone: 'Every zone is expected within {target}', aboutMinutes: '~{n} min', windowN: 'Window {n}',
    lane_priority: 'Priority', lane_appointment: 'Appointment', notSignedIn: 'Not open', pausedShort: 'Paused',
    resumesAt: 'Back at {time}', pauseReasonLabel: 'Reason', pauseForLabel: 'Back in about', pauseForUnsaid: 'Not sure yet', pauseMinutes: '{n} min', calledHere: 'Please come to this window', waitingHere: '{n} waiting for this window',
    err_already_booked: "This person already has an appointment that day", err_bad_appointment: "The slot is invalid or already over", err_booking_closed: "That appointment was already checked in, cancelled or missed", err_booking_taken: "That appointment code is taken", err_follow_up_done: "That follow-up step is already recorded", err_inconsistent: "Internal error: please call the administrator", err_no_bad_rating: "That ticket has no bad rating to follow up", err_not_booking_day: "That appointment is not for today", err_number_taken: "That number was already issued today", err_same_queue: "The ticket is already in that queue", err_too_long: "Too long", err_unknown_booking: "No such appointment code", err_unknown_category: "No such priority category", err_unknown_service: "No such service in that zone", err_unknown_window: "No such window", err_unknown_zone: "No such zone", err_unknown_hall: "No such hall", err_window_already_open: "The window is already signed on", err_window_not_paused: "The window is not paused", err_bad_pause: "A pause lasts 1 to 480 minutes", err_bad_code: "Not an appointment code (4 to 23 letters or digits)", err_bad_date: "Not a date", err_bad_range: "The range ends before it starts", err_range_too_long: "Too long a range (at most 366 days)", err_bad_id_number: "Not an ID or phone number", err_bad_query: "Bad request", err_bad_path: "Bad address", err_bad_body: "Bad request", err_malformed_json: "Bad request", err_invalid_body: "Bad request", err_content_type: "Bad request", err_body_too_large: "Request too large", err_unknown_action: "No such action", err_internal: "Internal error: try again shortly", err_corrupt_store: "The stored data is damaged: please call the administrator", err_bad_ticket: "Not a ticket number", err_window_busy: "The window still has a ticket in hand: finish or skip it first", err_window_paused: "The window is paused: resume first", err_window_closed: "The window is not signed on", err_nothing_in_hand: "No ticket in hand", err_queue_empty: "Nobody is waiting", err_wrong_state: "Not possible in the ticket's current state", err_not_served_here: "This window does not serve that ticket's service", err_recall_limit: "Recalled the maximum number of times", err_already_waiting: "This ID already has a ticket waiting", err_zone_closed: "This zone is not issuing tickets now", err_forbidden: "Not allowed for your role", err_unauthenticated: "Please sign in again", err_rate_limited: "Too many requests: try again shortly", err_bad_text: "The text holds invisible or control characters: remove them and try again", err_store_slow: "Saving is slow: the operation may have been saved; refresh in a moment before trying again", err_phone_tickets_full: "This zone takes no more phone tickets now: take one at the hall", err_account_locked: "Too many wrong passwords: this account is locked for a while", err_busy: "Too many sign-ins at once: try again in a moment", err_directory_unavailable: "The staff directory cannot be reached: directory accounts cannot sign in now (local accounts still can)", err_no_role: "The directory knows you, but none of your groups has a role in this hall: ask an administrator", err_body_timeout: "The request did not arrive in full: try again", err_quota_exceeded: "Today's phone tickets are used up", err_already_rated: "Already rated", err_unknown_ticket: "No such ticket", err_store_unavailable: "Cannot save now: nothing was changed, try again shortly", err_already_acknowledged: "The alert was already acknowledged", evStaffNo: "Staff no.", evWelcome: "Hello, how can we help?", evWhy: "What went wrong? (choose any)", evReasonAttitude: "Unfriendly", evReasonSlow: "Slow", evReasonWait: "Long wait", evReasonUnclear: "Unclear information", evReasonRules: "Complicated procedure", evReasonOther: "Other", err_not_rateable_here: "That ticket did not just finish at this window", err_no_such_alert: "The alert has cleared", opensAt: "; it opens at {t}", err_network: "The network is down: check it and try again", err_config_refused: "This change cannot be made now (see why)", err_config_invalid: "The configuration has mistakes: nothing was saved", err_unknown_version: "No such configuration version", err_version_gone: "That version is too old to be kept", err_bad_device: "Invalid device name or id", err_bad_outbox: "No such message is set aside (sent again already?)", err_no_platform: "This hall sends nothing to a government platform", err_unknown_device: "No such device (signed out already?)", err_too_many_devices: "Too many devices: sign some out first", err_idempotency_key_reused: "A repeated request with different content: reload the page and try again", err_bad_idempotency_key: "Invalid request: reload the page and try again", err_wrong_pin: "Wrong PIN", err_unknown_pairing: "No device is waiting with this code: check the code on its screen", err_not_a_device_account: "Not a device account", err_pairings_full: "Too many devices waiting to pair: try again shortly", checkInByCode: "Appointment check-in", bookingCode: "Booking code", checkInBySlot: "Without a code: check in by slot",
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

/**
 * A text as the phrases a line may break between: its parts around " · "
 * (the dot kept with the part before it, so no line starts with it) and a
 * bracketed part (（二手房买卖）) each in a span of class `ph`, which the
 * stylesheet keeps on one line unless it is wider than the line. So a
 * name wraps between its phrases, not one character from its end. The
 * text stays the same (textContent).
 */
export function phrases(text) {
  const out = [];
  const parts = String(text ?? '').split(' · ');
  parts.forEach((part, i) => {
    if (i) out.push(' ');
    const pieces = part.split(/(?=[（(])/u).filter(Boolean);
    if (i < parts.length - 1) pieces.push(`${pieces.pop() ?? ''} ·`);
    for (const p of pieces) {
      const span = document.createElement('span');
      span.className = 'ph';
      span.textContent = p;
      out.push(span);
    }
  });
  return out;
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
